"""`trainforge rl …`: train an agent on an environment, and replay a registered policy."""

from __future__ import annotations

from types import TracebackType
from typing import Annotated, Any, Self

import typer

app = typer.Typer(help="Reinforcement learning: train an agent on an environment (a Gymnasium "
                       "id or module:Class), replay a registered policy.", no_args_is_help=True)


@app.command("train")
def train(
    env: Annotated[str | None, typer.Argument(
        help="a Gymnasium id (CartPole-v1) or module:Class for your own environment")] = None,
    algo: Annotated[str | None, typer.Option(
        help="PPO, A2C, DQN, SAC or TD3 (default: PPO for discrete actions, SAC for "
             "continuous ones)")] = None,
    timesteps: Annotated[int | None, typer.Option(
        help="environment steps in all (default: 100,000)")] = None,
    name: Annotated[str | None, typer.Option(
        help="registry name (default: the environment id, lower-cased)")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed (default: 0)")] = None,
    n_envs: Annotated[int | None, typer.Option(
        "--n-envs", help="environment copies stepped together (default: the algorithm's)")] = None,
    search: Annotated[int | None, typer.Option(
        "--search", metavar="TRIALS", help="first search TRIALS settings of the algorithm "
                                           "(short runs, the defaults first)")] = None,
    episodes: Annotated[int | None, typer.Option(
        help="evaluation episodes (default: 20)")] = None,
    resume: Annotated[str | None, typer.Option(
        "--resume", metavar="RUN", help="continue an interrupted run (its id, from `trainforge "
                                        "runs list`) from its last checkpoint")] = None,
) -> None:
    """Train an agent on ENV; evaluate it over N episodes, report and register the policy."""
    from trainforge.jobs.rl import resume_rl_training, run_rl_training
    from trainforge.workspace import Workspace

    workspace = Workspace()
    if resume is not None:
        with RLTrainingDisplay() as display:
            outcome = resume_rl_training(resume, workspace=workspace, observers=[display])
    else:
        if env is None:
            raise typer.BadParameter("give the environment: a Gymnasium id such as CartPole-v1, "
                                     "or module:Class", param_hint="ENV")
        config = build_rl_config({"env": env, "algo": algo, "timesteps": timesteps,
                                  "name": name, "seed": seed, "n_envs": n_envs,
                                  "search_trials": search, "episodes": episodes})
        with RLTrainingDisplay() as display:
            outcome = run_rl_training(config, workspace=workspace, observers=[display])
    display.summary(outcome)


@app.command("eval")
def evaluate(
    name: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS of a policy")],
    env: Annotated[str | None, typer.Argument(
        help="the environment to replay it in (default: the one it was trained on)")] = None,
    episodes: Annotated[int, typer.Option(min=1, help="episodes to replay")] = 20,
) -> None:
    """Replay a registered policy and print its mean ± std return."""
    from rich.console import Console

    from trainforge.jobs.rl import registered_policy, replay
    from trainforge.workspace import Workspace

    workspace = Workspace()
    result = replay(name, env, episodes=episodes, workspace=workspace)
    where = env or registered_policy(name, workspace=workspace).env_spec
    Console().print(f"{name} on {where}: mean return [bold]{result.mean:.2f} ± {result.std:.2f}"
                    f"[/] over {len(result.returns)} episodes (min {min(result.returns):g}, "
                    f"max {max(result.returns):g})", highlight=False)


def build_rl_config(given: dict[str, Any]) -> Any:
    """The flags the user typed as an RLTrainConfig; an invalid one is one line naming it."""
    from pydantic import ValidationError

    from trainforge.config import RLTrainConfig
    from trainforge.errors import ConfigError

    flags = {"search_trials": "--search", "n_envs": "--n-envs", "env": "ENV"}
    try:
        return RLTrainConfig(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as error:
        problems = "; ".join(
            f"{flags.get(str(e['loc'][0]), '--' + str(e['loc'][0]))}: {e['msg']}"
            for e in error.errors())
        raise ConfigError(f"invalid reinforcement-learning settings: {problems}") from None


class RLTrainingDisplay:
    """A progress bar of the timesteps done (with the recent training return), then a summary."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.console = Console()
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
                                 console=self.console, transient=True)
        self.bar: Any = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self.bar is not None:
            self.progress.stop()

    def on_phase(self, text: str) -> None:
        self.console.print(f"[dim]…[/] {text}", highlight=False)

    def on_rollout_end(self, event: Any) -> None:
        recent = ("" if event.recent_mean_return is None
                  else f"return {event.recent_mean_return:.1f} (last 20 episodes)")
        if self.bar is None:
            self.progress.start()
            self.bar = self.progress.add_task("timesteps", total=event.total_timesteps,
                                              status=recent)
        self.progress.update(self.bar, completed=event.timesteps, total=event.total_timesteps,
                             status=recent)

    def on_fit_end(self, agent: Any) -> None:
        if self.bar is not None:
            self.progress.stop()
            self.bar = None
        resumed = ("" if agent.resumed_from is None
                   else f", resumed from timestep {agent.resumed_from:,}")
        self.console.print(f"trained {agent.algorithm} for {agent.timesteps:,} timesteps in "
                           f"{agent.wall_s:.1f} s{resumed}", highlight=False)

    def summary(self, outcome: Any) -> None:
        out, version = self.console, outcome.version
        out.print(f"[bold]Algorithm:[/] {outcome.why}", highlight=False)
        out.print(f"[bold]Evaluation:[/] mean return [bold]{outcome.evaluation.mean:.2f} ± "
                  f"{outcome.evaluation.std:.2f}[/] over {len(outcome.evaluation.returns)} "
                  f"episodes ({outcome.timesteps:,} timesteps, {outcome.elapsed_s:.1f} s in all)",
                  highlight=False)
        out.print(f"[bold green]Registered[/] {version.name}:{version.version}  (run "
                  f"{outcome.run_id})", highlight=False)
        out.print(f"[bold]Report:[/] {outcome.report_path}", highlight=False)
        example = _zeros(outcome.observation_shape)
        out.print(f"[bold]Next:[/] trainforge rl eval {version.name}\n"
                  f"      trainforge serve {version.name}\n"
                  f"      curl -s localhost:8000/v1/models/{version.name}/act "
                  f"-H 'content-type: application/json' -d '{{\"observation\": {example}}}'",
                  highlight=False, soft_wrap=True)


def _zeros(shape: tuple[int, ...]) -> str:
    """An all-zero observation of ``shape`` for the example request ("[...]" when large)."""
    size = 1
    for dimension in shape:
        size *= dimension
    if size > 16:
        return "[...]"
    text = "0.0"
    for dimension in reversed(shape):
        text = "[" + ", ".join([text] * dimension) + "]"
    return text
