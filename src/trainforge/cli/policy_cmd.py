"""`trainforge policy set|show|check NAME`: a model's retraining policy (when it is retrained
on its feedback, on what, how often at most), in the local workspace."""

from __future__ import annotations

from typing import Annotated, Any

import typer

app = typer.Typer(no_args_is_help=True, help="Retraining policies: when a deployed model is "
                                             "retrained on its labelled feedback.")
NameArgument = Annotated[str, typer.Argument(help="the registered model's name")]


@app.command("set")
def set_(
    name: NameArgument,
    drifted_features: Annotated[int | None, typer.Option(
        help="retrain when at least N features drift in the latest window")] = None,
    metric_floor: Annotated[float | None, typer.Option(
        help="retrain when the model's metric on labelled feedback is worse than this")] = None,
    new_labels: Annotated[int | None, typer.Option(
        help="retrain once N labels arrived since the model was trained")] = None,
    every: Annotated[str | None, typer.Option(help="retrain on a schedule: 12h, 7d")] = None,
    train_on: Annotated[str, typer.Option(
        help="original+feedback, window:30d or latest:N")] = "original+feedback",
    feedback_only_if_original_gone: Annotated[bool, typer.Option(
        help="with original+feedback: train on the feedback alone if the original data is "
             "gone")] = False,
    min_interval: Annotated[str, typer.Option(help="never retrain more often")] = "1h",
    max_cpu_hours_per_day: Annotated[float | None, typer.Option(
        help="cost cap: CPU-hours this model's retrains may use per day")] = None,
    enabled: Annotated[bool, typer.Option(help="whether the server checks it")] = True,
    learn: Annotated[str, typer.Option(
        help="what a trigger does: retrain, update (continue the model on its new "
             "labels: `trainforge update`) or windows (`trainforge update --method "
             "windows`: follow a drifting stream)")] = "retrain",
    time_budget: Annotated[float, typer.Option(help="seconds for each retraining run")] = 60.0,
    trials: Annotated[int | None, typer.Option(
        help="exactly N search trials per retrain (reproducible)")] = None,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
) -> None:
    """Set NAME's retraining policy (replacing the one it had)."""
    fields = {k: v for k, v in locals().items() if k != "name"}  # the options, by field
    from rich.console import Console

    from trainforge.jobs.retrain import set_policy
    from trainforge.workspace import Workspace

    policy = _policy(fields)
    record = set_policy(Workspace(), name, policy, updated_by=None)
    _show_policy(name, record["policy"], Console(highlight=False))


def _policy(fields: dict[str, Any]) -> Any:
    """The options as a RetrainPolicy; a refusal names the flag."""
    from pydantic import ValidationError

    from trainforge.config import RetrainPolicy
    from trainforge.errors import ConfigError

    try:
        return RetrainPolicy(**fields)
    except ValidationError as error:
        problems = "; ".join(f"--{'.'.join(map(str, e['loc'])).replace('_', '-')}: {e['msg']}"
                             for e in error.errors())
        raise ConfigError(f"invalid retraining policy: {problems}") from None


@app.command("show")
def show(name: NameArgument) -> None:
    """NAME's retraining policy and its latest decisions."""
    from rich.console import Console

    from trainforge.errors import NoRetrainPolicy
    from trainforge.store import retrain as retrain_store
    from trainforge.workspace import Workspace

    workspace = Workspace()
    workspace.registry.versions(name)
    record = retrain_store.get_policy(workspace, name)
    if record is None:
        raise NoRetrainPolicy(name)
    console = Console(highlight=False)
    _show_policy(name, record["policy"], console)
    for event in retrain_store.list_events(workspace, name, limit=10):
        made = f" → version {event['model_version']}" if event["model_version"] else ""
        console.print(f"  {event['at']:%Y-%m-%d %H:%M} {event['trigger']}: {event['outcome']}"
                      f"{made}: {event['reason']}")


@app.command("check")
def check(
    name: NameArgument,
    now: Annotated[bool, typer.Option(
        "--now", help="retrain now, in this process, whatever the triggers say")] = False,
) -> None:
    """Say which trigger of NAME's policy would fire and why; --now retrains (the new
    version gets the alias challenger; it is not deployed)."""
    from rich.console import Console

    from trainforge.jobs.retrain import check_model
    from trainforge.workspace import Workspace

    console = Console(highlight=False)
    checked = check_model(Workspace(), name, act=now, start=now, asked_by="the CLI")
    state, trigger = checked.state, checked.trigger
    scored = ("no labelled predictions" if state.metric_value is None else
              f"{state.metric} {state.metric_value:.4g} on {state.n_scored} labelled predictions")
    console.print(f"{name}: version {state.version} deployed; {state.new_labels} new labels; "
                  f"{scored}")
    if trigger is None:
        console.print("no trigger fires")
        return
    console.print(f"{trigger.trigger}: {trigger.reason}")
    if trigger.blocked is not None:
        console.print(f"not retrained: {trigger.blocked}")
    elif checked.event is not None and checked.event["model_version"] is not None:
        console.print(f"retrained: {name}:{checked.event['model_version']} is the challenger "
                      f"(dataset {checked.event['dataset_id']})")
    else:
        console.print("would retrain (run with --now here, or let the server's check do it)")


def _show_policy(name: str, policy: dict[str, Any], console: Any) -> None:
    shown = ", ".join(f"{k} {v}" for k, v in policy.items() if v is not None)
    console.print(f"{name}: {shown}")
