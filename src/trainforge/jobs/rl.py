"""The reinforcement-learning job, end to end: an environment in; an evaluated, registered
policy out. Every door (SDK, CLI) builds an ``RLTrainConfig`` and calls ``run_rl_training``.

Like ``trainforge train``, a run lives in the store (its learning curve as a metric series),
checkpoints under the run's checkpoint directory until it succeeds, and resumes by its id.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trainforge.config import RLTrainConfig
from trainforge.errors import ConfigError, NeedsReinforcementLearning
from trainforge.jobs.lifecycle import Run, run_lifecycle
from trainforge.jobs.observers import notify
from trainforge.json_value import JSONValue
from trainforge.workspace import Workspace

if TYPE_CHECKING:
    from trainforge.registry.records import ModelVersion
    from trainforge.rl.agents import AgentSettings
    from trainforge.rl.evaluation import Evaluation
    from trainforge.rl.package import PolicyModel
    from trainforge.rl.training import RolloutEvent, TrainedAgent

RESUME_COMMAND = "trainforge rl train"
CURVE_SERIES = "episode_return"  # the mean return of the last 20 training episodes
CURVE_POINTS = 200  # at most this many points of the series in the store, spread over the run
SEARCH_TRIAL_TIMESTEPS = 20_000  # each search trial's budget (less when the run is shorter)


@dataclass
class RLOutcome:
    """Everything one RL run produced; the SDK wraps it as a ``TrainedPolicy``."""

    config: RLTrainConfig
    algorithm: str
    why: str  # why this algorithm and these settings, in a sentence
    settings: dict[str, JSONValue]
    evaluation: Evaluation  # mean ± std return over ``config.episodes`` episodes
    timesteps: int
    resumed_from: int | None  # the timestep the run continued from, when resumed
    observation_shape: tuple[int, ...]
    version: ModelVersion
    run_id: str
    report_path: Path
    train_s: float
    elapsed_s: float


class _CurveRecorder:
    """Writes the learning curve into the run's metric series as training goes (the UI's live
    curve reads it); a few hundred points, not one per episode, so the store stays quick."""

    def __init__(self, workspace: Workspace, run_id: str, *, every_steps: int) -> None:
        self.workspace, self.run_id, self.every_steps = workspace, run_id, every_steps
        self.last_logged = -every_steps

    def on_rollout_end(self, event: RolloutEvent) -> None:
        from trainforge.store.runs import log_metric

        if (event.recent_mean_return is not None
                and event.timesteps - self.last_logged >= self.every_steps):
            log_metric(self.workspace, self.run_id, CURVE_SERIES, event.recent_mean_return,
                       step=event.timesteps)
            self.last_logged = event.timesteps


def run_rl_training(config: RLTrainConfig, *, workspace: Workspace,
                    observers: Sequence[object] = (), resume_run: str | None = None
                    ) -> RLOutcome:
    """Train an agent on ``config.env``, evaluate it, write its report and register it.

    Observers may define ``on_phase(text)`` and the hooks of ``rl.training.train_agent``
    (``on_rollout_end(RolloutEvent)``, ``on_fit_end``, ``on_error``). ``resume_run``: continue
    that run (same id) from its last checkpoint.

    Raises:
        UnknownEnvironment, EnvironmentImportFailed: before any run is recorded.
        TrainingInterrupted: on Ctrl-C; the checkpoint is kept and the message says how to
            resume.
    """
    _require_rl()
    from trainforge.rl.agents import choose_algorithm, describe
    from trainforge.rl.environments import make_one_env

    started, cpu_start = time.time(), time.process_time()
    probe = make_one_env(config.env)  # an unknown id or a failing module is named here
    action_space = describe(probe.action_space)
    algorithm = choose_algorithm(probe.action_space, config.algo)
    probe.close()
    with run_lifecycle(workspace, kind="rl", config=config, dataset_id=None,
                       observers=observers, resume_run=resume_run,
                       resume_command=RESUME_COMMAND, cpu_start=cpu_start) as run:
        settings, why = _settings(config, algorithm=algorithm, action_space=action_space,
                                  checkpoints=run.checkpoints, observers=observers)
        outcome = _train_evaluate_register(config, workspace=workspace, observers=observers,
                                           run=run, settings=settings, why=why,
                                           started=started)
        run.succeeded(outcome.version, metrics={"mean_return": outcome.evaluation.mean,
                                                "std_return": outcome.evaluation.std})
    outcome.elapsed_s = time.time() - started
    return outcome


def resume_rl_training(run_id: str, *, workspace: Workspace,
                       observers: Sequence[object] = ()) -> RLOutcome:
    """Continue an interrupted RL run with its own settings from its last checkpoint; the
    timestep count goes on from there."""
    from trainforge.store.runs import get_run

    run = get_run(workspace, run_id)
    if run["kind"] != "rl":
        raise ConfigError(f"run {run_id} is a {run['kind']!r} run, not a reinforcement-learning "
                          "one; resume it with `trainforge train --resume`")
    if run["status"] == "succeeded":
        raise ConfigError(f"run {run_id} finished already (model {run['model_name']}:"
                          f"{run['model_version']}); there is nothing to resume")
    return run_rl_training(RLTrainConfig(**run["config"]), workspace=workspace,
                           observers=observers, resume_run=run_id)


def replay(ref: str, env: str | None = None, *, episodes: int = 20, seed: int | None = None,
           workspace: Workspace) -> Evaluation:
    """Replay a registered policy for ``episodes`` episodes of ``env`` (default: the one it was
    trained on); its mean ± std return and each episode's.

    ``seed`` None uses the evaluation's own seeds, so the figure matches the one training
    reported.
    """
    _require_rl()
    from trainforge.rl.evaluation import evaluate_agent

    policy = registered_policy(ref, workspace=workspace)
    spec = env or policy.env_spec
    if seed is None:
        return evaluate_agent(policy, spec, episodes=episodes)
    return evaluate_agent(policy, spec, episodes=episodes, seed=seed)


def registered_policy(ref: str, *, workspace: Workspace) -> PolicyModel:
    """The policy ``ref`` points at; ConfigError when it is a table model."""
    loaded = workspace.registry.load(ref)
    if not loaded.is_policy:
        raise ConfigError(f"{loaded.ref} is a {loaded.model.task.kind.value} model, not a "
                          "policy; replay a model trained with `trainforge rl train`")
    policy: PolicyModel = loaded.model  # type: ignore[assignment]  # is_policy said so
    return policy


def default_name(env: str) -> str:
    """"CartPole-v1" → "cartpole-v1"; "my_envs:GridWorld" → "my_envs-gridworld"."""
    return re.sub(r"[^a-z0-9_.-]+", "-", env.lower()).strip("-.") or "policy"


def _settings(config: RLTrainConfig, *, algorithm: str, action_space: str, checkpoints: Path,
              observers: Sequence[object]) -> tuple[AgentSettings, str]:
    """The settings to train with, and why: the interrupted run's, a search's, or defaults."""
    import dataclasses

    from trainforge.rl.agents import AgentSettings, default_settings
    from trainforge.rl.environments import make_one_env
    from trainforge.rl.search import search_settings
    from trainforge.runtime.checkpoints import load_checkpoint

    checkpoint = load_checkpoint(checkpoints)
    if checkpoint is not None:  # resuming: the checkpoint holds the settings it trained with
        stored = checkpoint.meta["settings"]
        why = (f"{stored['algorithm']} with the settings of the interrupted run, continued "
               f"from timestep {checkpoint.meta['num_timesteps']:,}")
        return AgentSettings(**stored), why
    reason = (f"{algorithm}, as asked (--algo)" if config.algo is not None else
              f"{algorithm}, the default for the action space {action_space} (PPO for discrete "
              "actions, SAC for continuous ones)")
    if config.search_trials is not None:
        per_trial = min(SEARCH_TRIAL_TIMESTEPS, config.timesteps)
        notify(observers, "on_phase", f"searching {config.search_trials} settings of "
                                      f"{algorithm}, {per_trial:,} timesteps each")
        settings = search_settings(config.env, algo=algorithm, trials=config.search_trials,
                                   timesteps_per_trial=per_trial, seed=config.seed)
        why = (f"{reason}; settings from a search of {config.search_trials} trials "
               f"({per_trial:,} timesteps each, the defaults first)")
    else:
        env = make_one_env(config.env)
        settings = default_settings(algorithm, env.action_space)
        env.close()
        why = f"{reason}; its default settings"
    if config.n_envs is not None and config.n_envs != settings.n_envs:
        settings = dataclasses.replace(settings, n_envs=config.n_envs)
        why += f", with {config.n_envs} environment copies (--n-envs)"
    return settings, why


def _train_evaluate_register(config: RLTrainConfig, *, workspace: Workspace,
                             observers: Sequence[object], run: Run, settings: AgentSettings,
                             why: str, started: float) -> RLOutcome:
    from trainforge.rl.evaluation import evaluate_agent
    from trainforge.rl.training import train_agent

    run_id = run.id
    recorder = _CurveRecorder(workspace, run_id,
                              every_steps=max(config.timesteps // CURVE_POINTS, 1))
    agent = train_agent(config.env, timesteps=config.timesteps, seed=config.seed,
                        checkpoint_dir=run.checkpoints, checkpoint_every=config.checkpoint_every,
                        settings=settings, callbacks=[*observers, recorder])
    notify(observers, "on_phase", f"evaluating over {config.episodes} episodes")
    evaluation = evaluate_agent(agent, config.env, episodes=config.episodes)
    name = config.name or default_name(config.env)
    version = _register(config, workspace=workspace, observers=observers, name=name,
                        agent=agent, evaluation=evaluation, why=why, run_id=run_id,
                        started=started)
    return RLOutcome(config=config, algorithm=agent.algorithm, why=why,
                     settings=agent.settings.as_json(), evaluation=evaluation,
                     timesteps=agent.timesteps, resumed_from=agent.resumed_from,
                     observation_shape=tuple(agent.model.observation_space.shape or ()),
                     version=version, run_id=run_id, report_path=version.path / "report.html",
                     train_s=agent.wall_s, elapsed_s=0.0)


def _register(config: RLTrainConfig, *, workspace: Workspace, observers: Sequence[object],
              name: str, agent: TrainedAgent, evaluation: Evaluation, why: str, run_id: str,
              started: float) -> ModelVersion:
    """Write the report, then register the policy with the report inside."""
    from trainforge.rl.agents import describe
    from trainforge.rl.package import PolicyModel
    from trainforge.rl.policy_files import load_policy, save_policy
    from trainforge.rl.report import write_rl_report

    observation_space = agent.model.observation_space
    lineage = {"run_id": run_id, "seed": config.seed, "config": config.model_dump(mode="json"),
               "env": config.env, "algorithm": agent.algorithm, "timesteps": agent.timesteps,
               "resumed_from": agent.resumed_from, "why": why,
               "observation_shape": list(observation_space.shape or ()),
               "action_space": describe(agent.model.action_space)}
    with tempfile.TemporaryDirectory(prefix="trainforge-rl-") as scratch:
        notify(observers, "on_phase", "writing the report")
        report = write_rl_report(
            Path(scratch) / "report.html", title=name, env=config.env, why=why,
            settings=agent.settings.as_json(), curve=agent.learning_curve,
            evaluation=evaluation, timesteps=agent.timesteps, train_s=agent.wall_s,
            wall_s=time.time() - started, lineage=lineage)
        # the policy goes through its own files and back: what is registered is exactly what
        # serving will load, with no SB3 training state attached
        save_policy(agent, Path(scratch) / "policy")
        policy = PolicyModel(load_policy(Path(scratch) / "policy"))
        notify(observers, "on_phase", "registering the policy")
        return workspace.registry.register(
            policy, name=name,
            # flat, as for the other kinds without a test split: the evaluation episodes
            metrics={"mean_return": evaluation.mean, "std_return": evaluation.std,
                     "episodes": len(evaluation.returns)},
            lineage=lineage, extra_files={"report.html": report})


def _require_rl() -> None:
    """Gymnasium and Stable-Baselines3 are an extra (`trainforge[rl]`): say so, not ImportError."""
    import importlib.util

    for module, package in (("gymnasium", "gymnasium"), ("stable_baselines3", "stable-baselines3")):
        if importlib.util.find_spec(module) is None:
            raise NeedsReinforcementLearning(package)
