"""`trainforge train`: AutoML on a table, then evaluation, report and registration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer


def _process_start() -> float:
    """Wall-clock time this process started: the user's budget covers the whole command."""
    import psutil

    return float(psutil.Process().create_time())


OLD_BUDGET_KEY = "time_budget_s"  # what config files said before the budget had one spelling


def _read_config_file(path: Path) -> dict[str, Any]:
    """The file's fields, as a user spells them at every door (``time_budget``)."""
    import tomllib
    import warnings

    from trainforge.errors import ConfigError

    try:
        with path.open("rb") as handle:
            fields = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; check --config") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML ({error}); check --config") from None
    if OLD_BUDGET_KEY in fields:  # still read, so that a run written down repeats as it was
        if "time_budget" in fields:
            raise ConfigError(f"{path} gives both time_budget and {OLD_BUDGET_KEY}; keep "
                              "time_budget")
        warnings.warn(f"`{OLD_BUDGET_KEY}` in {path} is deprecated since 0.2, removed in 0.4; "
                      "write `time_budget` (the --time-budget flag's name)", FutureWarning,
                      stacklevel=2)
        fields["time_budget"] = fields.pop(OLD_BUDGET_KEY)
    return fields


def build_config(given: dict[str, Any], config_file: Path | None) -> Any:
    """Merge a config file with the flags the user typed (flags win) into a TrainConfig."""
    from pydantic import ValidationError

    from trainforge.config import TrainConfig
    from trainforge.errors import ConfigError

    fields = _read_config_file(config_file) if config_file else {}
    fields.update({k: v for k, v in given.items() if v is not None})
    try:
        return TrainConfig(**fields)
    except ValidationError as error:
        problems = "; ".join(f"{_flag(e['loc'], from_file=config_file is not None)}: {e['msg']}"
                             for e in error.errors())
        source = f" in {config_file}" if config_file else ""
        raise ConfigError(f"invalid training settings{source}: {problems}") from None


def _flag(location: tuple[Any, ...], *, from_file: bool) -> str:
    """The name the user typed: the TOML key in a config file, else the command-line flag."""
    field = ".".join(map(str, location))
    if not field:  # a rule across fields (a constraint without its sensitive features)
        return "settings"
    if from_file or field == "data":
        return field
    return "--" + field.replace("_", "-")


def train(
    data: Annotated[str | None, typer.Argument(help="CSV/TSV/Parquet/JSON/Excel file, a folder "
                                                    "of images (one sub-folder per class), or a "
                                                    "database URL with --sql")] = None,
    target: Annotated[str | None, typer.Option("--target", "-t", help="column to predict")] = None,
    name: Annotated[str | None, typer.Option(help="registry name (default: the file's name)")] = None,
    time_budget: Annotated[float | None, typer.Option(
        "--time-budget", help="seconds for the whole command, report included (default: 60)")] = None,
    metric: Annotated[str | None, typer.Option(help="metric to optimise (default: roc_auc, "
                                                    "balanced_accuracy or r2)")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed (default: 0)")] = None,
    trials: Annotated[int | None, typer.Option(
        help="run exactly N search trials (reproducible on any machine) instead of a budget")] = None,
    algorithm: Annotated[str | None, typer.Option(
        help="a catalog name to use only that algorithm (default: auto)")] = None,
    search_workers: Annotated[int | None, typer.Option(
        "--search-workers", help="search trials run at once, as Ray tasks of 1 CPU each; "
                                 "more than 1 needs --search-backend ray (default: 1)")] = None,
    search_backend: Annotated[str | None, typer.Option(
        "--search-backend", help="where search trials run: local, ray, or auto (ray when "
                                 "$TRAINFORGE_RAY_ADDRESS is set) (default: auto)")] = None,
    sql: Annotated[str | None, typer.Option(help="SQL query; DATA is then a SQLAlchemy URL")] = None,
    split: Annotated[str | None, typer.Option(
        help="stratified, random, group or time (default: stratified)")] = None,
    group_column: Annotated[str | None, typer.Option(help="column for --split group")] = None,
    time_column: Annotated[str | None, typer.Option(help="column for --split time")] = None,
    test_size: Annotated[float | None, typer.Option(help="held-out share (default: 0.2)")] = None,
    init_from: Annotated[str | None, typer.Option(
        "--init-from", help="start from a registered network (NAME[:VERSION|@ALIAS]): its "
                            "backbone, a new head")] = None,
    freeze_backbone: Annotated[bool | None, typer.Option(
        "--freeze-backbone", help="with --init-from: train only the new head")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", help="networks: train data-parallel on N Ray Train workers (DDP; a Ray "
                          "cluster at $TRAINFORGE_RAY_ADDRESS, or a local Ray) (default: 1)")
    ] = None,
    max_epochs: Annotated[int | None, typer.Option(
        "--max-epochs", help="networks: train at most N epochs (default: each network's own, "
                             "more on small data so that it takes at least 500 optimiser "
                             "steps)")] = None,
    pii: Annotated[str | None, typer.Option(
        "--pii", help="columns holding personal data (e-mails, phones, cards, names…): warn, "
                      "or drop, hash or mask them before training (default: warn)")] = None,
    label_issues: Annotated[str | None, typer.Option(
        "--label-issues", help="rows whose label looks wrong (classification): keep them, "
                               "listed in the report; drop them from the final fit; or review "
                               "them in the labeling project <model>-label-issues "
                               "(default: keep)")] = None,
    rules: Annotated[str | None, typer.Option(
        "--rules", help="training rules while a network trains (loss NaN or not falling, "
                        "exploding or vanishing gradients, dead ReLUs, learning rate too high "
                        "or low, overfitting, an ignored minority class): warn, stop the run, "
                        "or off (default: warn)")] = None,
    dp_epsilon: Annotated[float | None, typer.Option(
        "--dp-epsilon", help="differential privacy: train networks with DP-SGD (Opacus), "
                             "spending at most this ε per trained model; only networks are "
                             "candidates")] = None,
    dp_delta: Annotated[float | None, typer.Option(
        "--dp-delta", help="with --dp-epsilon: the δ of (ε, δ), below 1/n for n training rows "
                           "(1e-5 or 0.1/n, whichever is smaller, when left out)")] = None,
    dp_max_grad_norm: Annotated[float | None, typer.Option(
        "--dp-max-grad-norm", help="with --dp-epsilon: each row's gradient is clipped to this "
                                   "norm before the noise (default: 1)")] = None,
    sensitive_features: Annotated[str | None, typer.Option(
        "--sensitive-features", help="comma-separated columns (e.g. sex,race) whose groups "
                                     "and intersections the model is assessed across, on the "
                                     "test split: fairness.json and the report")] = None,
    sensitive_as_features: Annotated[bool | None, typer.Option(
        "--sensitive-as-features/--no-sensitive-as-features",
        help="with --sensitive-features: let the model learn from those columns too, or only "
             "assess them (default: True)")] = None,
    fairness_constraint: Annotated[str | None, typer.Option(
        "--fairness-constraint", help="binary classification: demographic_parity or "
                                      "equalized_odds, equalised across the sensitive groups by "
                                      "per-group thresholds (predictions then need the "
                                      "sensitive columns)")] = None,
    fairness_tolerance: Annotated[float | None, typer.Option(
        "--fairness-tolerance", help="with --fairness-constraint demographic_parity: the "
                                     "largest selection-rate difference allowed between groups "
                                     "(default: exact parity)")] = None,
    intended_use: Annotated[str | None, typer.Option(
        "--intended-use", help="the model card's intended use: the decision the model "
                               "supports (edit later with `trainforge models card`)")] = None,
    intended_users: Annotated[str | None, typer.Option(
        "--intended-users", help="the model card's intended users: teams, roles or "
                                 "systems")] = None,
    resume: Annotated[str | None, typer.Option(
        "--resume", help="continue an interrupted run (its id, from `trainforge runs list`) "
                         "from its checkpoints")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="TOML file with the same fields (flags override it)")] = None,
    server: Annotated[str | None, typer.Option(
        "--server", help="train on this trainforge server (default: $TRAINFORGE_SERVER); "
                         "DATA is uploaded")] = None,
    token: Annotated[str | None, typer.Option(
        "--token", help="API token for --server (default: $TRAINFORGE_TOKEN)")] = None,
) -> None:
    """Train the best model for TARGET within the budget; evaluate, report and register it.

    The task is inferred and printed; the test split is held out from model selection.
    """
    started_at = _process_start()
    from trainforge.client import server_url

    card = {"intended_use": intended_use, "intended_users": intended_users}
    url = server_url(server)
    if url is not None:
        _train_on_server(url, token=token, data=data, config_file=config, resume=resume, given={
            "target": target, "name": name, **card, "time_budget": time_budget,
            "metric": metric, "seed": seed, "trials": trials, "algorithm": algorithm, "split": split,
            "search_workers": search_workers, "search_backend": search_backend,
            "group_column": group_column, "time_column": time_column, "test_size": test_size,
            "init_from": init_from, "freeze_backbone": freeze_backbone, "pii": pii,
            "workers": workers, "max_epochs": max_epochs, "label_issues": label_issues,
            "rules": rules,
            "dp_epsilon": dp_epsilon, "dp_delta": dp_delta,
            "dp_max_grad_norm": dp_max_grad_norm,
            "sensitive_features": sensitive_features,
            "sensitive_as_features": sensitive_as_features,
            "fairness_constraint": fairness_constraint,
            "fairness_tolerance": fairness_tolerance, "sql": sql})
        return
    if resume is not None:
        _resume(resume, time_budget=time_budget, started_at=started_at)
        return
    settings = build_config({"data": data, "target": target, "name": name, **card,
                             "time_budget": time_budget, "metric": metric, "seed": seed,
                             "trials": trials, "algorithm": algorithm, "sql": sql,
                             "search_workers": search_workers,
                             "search_backend": search_backend,
                             "split": split, "group_column": group_column,
                             "time_column": time_column, "test_size": test_size,
                             "init_from": init_from, "freeze_backbone": freeze_backbone,
                             "workers": workers, "max_epochs": max_epochs, "pii": pii,
                             "label_issues": label_issues, "rules": rules,
                             "dp_epsilon": dp_epsilon, "dp_delta": dp_delta,
                             "dp_max_grad_norm": dp_max_grad_norm,
                             "sensitive_features": sensitive_features,
                             "sensitive_as_features": sensitive_as_features,
                             "fairness_constraint": fairness_constraint,
                             "fairness_tolerance": fairness_tolerance}, config)
    from trainforge.cli.progress import TrainingDisplay
    from trainforge.jobs.process import own_process
    from trainforge.jobs.train import run_training
    from trainforge.workspace import Workspace

    own_process()  # before the search starts its threads
    workspace = Workspace()
    with TrainingDisplay(settings, started_at=started_at) as display:
        outcome = run_training(settings, workspace=workspace, observers=[display],
                               started_at=started_at)
    display.summary(outcome)


def _resume(run_id: str, *, time_budget: float | None, started_at: float) -> None:
    from trainforge.cli.progress import TrainingDisplay
    from trainforge.config import TrainConfig
    from trainforge.jobs.process import own_process
    from trainforge.jobs.train import resume_training
    from trainforge.store.runs import get_run
    from trainforge.workspace import Workspace

    own_process()
    workspace = Workspace()
    settings = TrainConfig(**get_run(workspace, run_id)["config"])
    if time_budget is not None:
        settings = settings.model_copy(update={"time_budget_s": time_budget})
    with TrainingDisplay(settings, started_at=started_at) as display:
        outcome = resume_training(run_id, workspace=workspace, observers=[display],
                                  started_at=started_at, time_budget_s=time_budget)
    display.summary(outcome)


def _train_on_server(url: str, *, token: str | None, data: str | None, config_file: Path | None,
                     resume: str | None, given: dict[str, Any]) -> None:
    from trainforge.cli.remote_train import train_remotely
    from trainforge.errors import ConfigError

    if resume is not None or given.pop("sql") is not None or data is None:
        raise ConfigError("with --server, give DATA (a file to upload); --resume and --sql run "
                          "only locally (a server's job resumes by itself)")
    fields = _read_config_file(config_file) if config_file else {}
    fields.pop("data", None)
    fields.update({k: v for k, v in given.items() if v is not None})
    train_remotely(url, token=token, data=data, settings=fields)
