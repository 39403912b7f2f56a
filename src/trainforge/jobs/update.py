"""Updating a model on its feedback: the labelled predictions of the deployments serving it,
learned by the members that can learn more (``online_linear`` by ``partial_fit``, LightGBM by
a few more boosting rounds from its current trees), registered as a NEW version with the alias
``challenger``. The version updated is never changed: comparing, promoting and rolling back
work as for any retrained version.

The rows are those logged after the parent learned its last (its own update's ``until``, else
its creation), or after ``since``; they become features exactly as a retrain's do
(``monitoring.retrain_data.training_rows``), and go through the parent's fitted preprocessing
as they are (the log holds inputs as the model sees them: hashed columns already hashed).
The new version's lineage names its parent, the rows' time range and request ids, and which
members learned and which were kept as they were.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from trainforge.algorithms import catalog
from trainforge.algorithms.model import Member, TabularModel, coerce_frame
from trainforge.algorithms.online import UPDATABLE, can_update, updated
from trainforge.config import UpdateConfig
from trainforge.data.privacy_policy import HASH_KEY_FILE
from trainforge.errors import ModelCannotUpdate, NoFeedbackToTrainOn
from trainforge.jobs.lifecycle import run_lifecycle
from trainforge.jobs.observers import notify
from trainforge.json_value import JSONValue
from trainforge.monitoring.reference import REFERENCE_FILE
from trainforge.monitoring.retrain_data import original_data, training_rows
from trainforge.registry.loaded import LoadedModel
from trainforge.registry.records import ModelVersion
from trainforge.training.windows import TreesFrom, WindowBlend, blend_windows
from trainforge.workspace import Workspace

CHALLENGER = "challenger"
# files of the parent's package that still describe the new version: the monitoring
# reference (the training data's profile drift compares with) and the --pii hash key
_KEPT_FILES = (REFERENCE_FILE, "profile.json", HASH_KEY_FILE)


@dataclass(frozen=True)
class UpdateOutcome:
    """What an update did: the new version, what it learned from, and the task metric of the
    parent on those rows before learning them (``before``: unseen rows, an honest estimate)
    and of the new version after (``after``: rows it has learned)."""

    version: ModelVersion
    parent: str
    run_id: str
    n_rows: int
    updated: list[str]
    kept: list[str]
    metric: str
    before: float | None
    after: float | None
    windows: WindowBlend | None = None  # method windows: the windows, weights and scores


def update_model(workspace: Workspace, name: str, *, since: datetime | None = None,
                 rounds: int = 1, method: Literal["continue", "windows"] = "continue",
                 observers: Sequence[object] = ()) -> UpdateOutcome:
    """Continue ``name`` (NAME: its latest version, NAME:VERSION or NAME@ALIAS) on the
    labels its deployments received; returns the new version, aliased ``challenger``.

    Raises:
        ModelCannotUpdate: no member can learn in place (retrain it instead).
        NoFeedbackToTrainOn: not deployed, or no labelled prediction since ``since``.
        UnrebuildableColumn: a deployment's log excludes or hashes an input.
    """
    return run_update(UpdateConfig(model=name, since=since, rounds=rounds, method=method),
                      workspace=workspace, observers=observers)


def run_update(config: UpdateConfig, *, workspace: Workspace,
               observers: Sequence[object] = ()) -> UpdateOutcome:
    """``update_model`` from its config: what the CLI and the server's workers call."""
    parent = workspace.registry.load(config.model)
    model = parent.tabular
    _check_can_update(parent, method=config.method)
    until = datetime.now(UTC)
    since = config.since or learned_until(parent)
    rows, labelled, deployments = _feedback(workspace, parent, since=since, until=until)
    with run_lifecycle(workspace, kind="update", config=config, dataset_id=None,
                       observers=observers) as run:
        truth = _truth(model, rows)
        blend: WindowBlend | None = None
        if config.method == "windows":
            history = _history(workspace, parent, until=until)
            notify(observers, "on_phase", f"refitting {parent.ref} on windows of its "
                                          f"{len(history):,} rows")
            new_model, blend = _windows(model, history, trees_from=trees_from(parent))
            learned, kept = [new_model.members[0].algorithm], list[str]()
        else:
            notify(observers, "on_phase", f"updating {parent.ref} on {len(rows):,} labelled "
                                          f"rows")
            new_model, learned, kept = _learned(model, rows, truth, rounds=config.rounds)
        before, after = _score(model, rows, truth), _score(new_model, rows, truth)
        metric = model.task.metric
        lineage = _lineage(parent, run_id=run.id, config=config, since=since, until=until,
                           labelled=labelled, deployments=deployments, learned=learned,
                           kept=kept, blend=blend)
        held = {} if blend is None else {"windows_holdout": {blend.metric: blend.blend_score}}
        version = _register(workspace, parent, new_model, lineage=lineage,
                            metrics={"before_update": before, "after_update": after} | held,
                            n_rows=len(rows))
        workspace.registry.alias(version.name, version.version, CHALLENGER)
        version = dataclasses.replace(version, aliases=(*version.aliases, CHALLENGER))
        run.succeeded(version, metrics={f"before_update_{k}": v for k, v in before.items()}
                      | {f"after_update_{k}": v for k, v in after.items()}
                      | {f"windows_holdout_{k}": v for k, v in held.get("windows_holdout",
                                                                          {}).items()})
    return UpdateOutcome(version=version, parent=parent.ref, run_id=run.id, n_rows=len(rows),
                         updated=learned, kept=kept, metric=metric,
                         before=_number(before.get(metric)), after=_number(after.get(metric)),
                         windows=blend)


def _check_can_update(parent: LoadedModel, *, method: str) -> None:
    """ModelCannotUpdate: ``continue`` with no member that learns in place; ``windows`` for
    a model that is not a table model of a classical (non-network) pipeline."""
    model = parent.tabular
    algorithms = [m.algorithm for m in model.members]
    if method == "windows":
        if not model.task.kind.is_supervised or any(
                catalog.get(a).family == "network" for a in algorithms):
            raise ModelCannotUpdate(parent.ref, algorithms, UPDATABLE, method="windows")
        return
    if not model.task.kind.is_supervised or not any(can_update(m.estimator)
                                                    for m in model.members):
        raise ModelCannotUpdate(parent.ref, algorithms, UPDATABLE)


def learned_until(parent: LoadedModel) -> datetime:
    """Where the parent's learning ends: its own update's ``until``, else its creation."""
    update = parent.manifest.get("lineage", {}).get("update") or {}
    return datetime.fromisoformat(str(update.get("until") or parent.manifest["created_at"]))


def _feedback(workspace: Workspace, parent: LoadedModel, *, since: datetime | None,
              until: datetime) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The training rows (features and target), the labelled predictions they came from,
    and the deployments that logged them."""
    from trainforge.monitoring.deployments import deployments_of
    from trainforge.monitoring.retrain_data import check_logged, labelled_of

    features = [spec.name for spec in parent.tabular.features]
    deployed = deployments_of(workspace, parent.name, log_root=workspace.prediction_log)
    if not deployed:
        raise NoFeedbackToTrainOn(parent.name, "it is not deployed, so it has no logged "
                                               "predictions")
    for deployment in deployed:
        check_logged(deployment, features)
    labelled = labelled_of(workspace, workspace.prediction_log, deployed, since=since,
                           until=until)
    # after `since`, not at it: the previous update's last row is not learned twice
    if since is not None and len(labelled):
        labelled = labelled[labelled["time"] > pd.Timestamp(since)]
    if labelled.empty:
        after = "" if since is None else f" after {since.isoformat()}"
        raise NoFeedbackToTrainOn(parent.name, f"no prediction logged{after} has a label")
    names = [d["name"] for d in deployed]
    rows = _as_rows(labelled, features, target=parent.tabular.task.target, deployment=names[0])
    return rows, labelled, names


def _as_rows(labelled: pd.DataFrame, features: list[str], *, target: str, deployment: str
             ) -> pd.DataFrame:
    return training_rows(labelled, features, target=target,
                         deployment=deployment).reset_index(drop=True)


def _history(workspace: Workspace, parent: LoadedModel, *, until: datetime) -> pd.DataFrame:
    """All the rows the model's line has to learn from, oldest first: its original training
    data (as its package names it, checked by fingerprint), then every labelled prediction
    of its deployments in time order; inputs as the model sees them (--pii applied)."""
    model = parent.tabular
    features, target = [spec.name for spec in model.features], model.task.target
    _, labelled, deployed = _feedback(workspace, parent, since=None, until=until)
    rows = _as_rows(labelled, features, target=target, deployment=deployed[0])
    original = original_data(workspace, parent.manifest, feedback_only_if_gone=False, notes=[])
    assert original is not None  # raises OriginalDataGone rather than None here
    first = original.frame[[*features, target]]
    if model.inputs is not None:  # the log holds hashed or masked inputs: so must these
        first = pd.concat([model.inputs.apply(first[features]), first[[target]]], axis=1)
    rows[target] = rows[target].astype(first[target].dtype, errors="ignore")
    return pd.concat([first, rows], ignore_index=True)


def _windows(model: TabularModel, history: pd.DataFrame, *, trees_from: TreesFrom | None
             ) -> tuple[TabularModel, WindowBlend]:
    """The model's heaviest member's pipeline refitted on windows of ``history``."""
    truth = _truth(model, history)
    frame = coerce_frame(history.loc[truth.kept].reset_index(drop=True), model.features)
    blend = blend_windows(template_of(model), frame, np.asarray(truth.values), task=model.task,
                          trees_from=trees_from)
    return dataclasses.replace(model, members=blend.members), blend


def template_of(model: TabularModel) -> Member:
    """The member whose pipeline a windows update refits: the heaviest."""
    return max(model.members, key=lambda m: m.weight)


def trees_from(parent: LoadedModel) -> TreesFrom | None:
    """The boosting rounds a windows update counts each window's from, and the rows they
    were chosen for: carried on from a windows update's lineage; for a trained version, its
    heaviest member's rounds and the training rows (all labelled rows after the refit).
    None (every window keeps the template's rounds) for a template that does not boost, or
    a parent updated in place, whose trees no longer match a number of rows."""
    lineage = parent.manifest.get("lineage", {})
    update = lineage.get("update")
    if update is not None:
        carried = (update.get("windows") or {}).get("trees_from")
        return None if carried is None else TreesFrom(trees=int(carried["trees"]),
                                                      rows=int(carried["rows"]))
    estimator = template_of(parent.tabular).estimator
    if not hasattr(estimator, "set_rounds") or "n_train_rows" not in lineage:
        return None
    return TreesFrom(trees=int(estimator.best_iteration_), rows=_fitted_rows(lineage))


def _fitted_rows(lineage: Mapping[str, Any]) -> int:
    """The rows a trained version's registered model was fitted on; a package from before
    ``n_fitted_rows`` was recorded says so only in its refit sentence."""
    if "n_fitted_rows" in lineage:
        return int(lineage["n_fitted_rows"])
    refitted = str(lineage.get("refit", "")).startswith("refitted")
    return int(lineage["n_train_rows"]) + (int(lineage["n_test_rows"]) if refitted else 0)


def _truth(model: TabularModel, rows: pd.DataFrame) -> Any:
    from trainforge.evaluation.truth import truth_of

    return truth_of(rows, model.task, source="the labelled feedback")


def _as_logged(model: TabularModel) -> TabularModel:
    """The model taking rows as the log holds them: already through its --pii transform."""
    return dataclasses.replace(model, inputs=None)


def _learned(model: TabularModel, rows: pd.DataFrame, truth: Any, *, rounds: int
             ) -> tuple[TabularModel, list[str], list[str]]:
    """A new model whose updatable members have learned ``rows``; the others are shared as
    they were. Returns it with the algorithms updated and kept."""
    prepared = coerce_frame(rows.loc[truth.kept], model.features)
    members, learned, kept = [], [], []
    for member in model.members:
        if can_update(member.estimator):
            matrix = member.preprocessor.transform(prepared)
            estimator = updated(member.estimator, matrix, truth.values, rounds=rounds)
            members.append(dataclasses.replace(member, estimator=estimator))
            learned.append(member.algorithm)
        else:  # shared, not copied: nothing changes a fitted member
            members.append(member)
            kept.append(member.algorithm)
    return dataclasses.replace(model, members=members), learned, kept


def _score(model: TabularModel, rows: pd.DataFrame, truth: Any) -> dict[str, float]:
    from trainforge.evaluation.evaluate import evaluate_predictions

    seen = _as_logged(model)
    kept = rows.loc[truth.kept]
    output = (seen.predict_proba(kept) if model.task.kind.is_classification
              else seen.predict(kept))
    metrics = evaluate_predictions(model.task, truth.values, output).metrics
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and np.isfinite(v)}


def _number(value: float | None) -> float | None:
    return None if value is None else float(value)


def _lineage(parent: LoadedModel, *, run_id: str, config: UpdateConfig, since: datetime,
             until: datetime, labelled: pd.DataFrame, deployments: list[str],
             learned: list[str], kept: list[str], blend: WindowBlend | None
             ) -> dict[str, JSONValue]:
    inherited = parent.manifest.get("lineage", {})
    times = labelled["time"]
    return {
        # the parent's training data stays the model's original data (a retrain of this
        # version with original+feedback reads it, plus the feedback)
        "dataset_fingerprint": inherited.get("dataset_fingerprint"),
        "dataset_source": inherited.get("dataset_source"),
        "run_id": run_id, "seed": inherited.get("seed"),
        "config": config.model_dump(mode="json"),
        "parent": {"name": parent.name, "version": parent.version},
        "update": {
            "since": since.isoformat(), "until": until.isoformat(),
            "deployments": list(deployments), "n_rows": len(labelled),
            "predictions": {"first_at": times.min().isoformat(),
                            "last_at": times.max().isoformat(),
                            "first_request_id": str(labelled["request_id"].iloc[0]),
                            "last_request_id": str(labelled["request_id"].iloc[-1]),
                            "n_requests": int(labelled["request_id"].nunique())},
            "updated_members": list(learned), "kept_members": list(kept),
            "method": config.method,
            "rounds": (config.rounds if config.method == "continue" and "lightgbm" in learned
                       else None),
            "windows": None if blend is None else {
                "sizes": list(blend.sizes), "weights": list(blend.weights),
                "holdout_rows": blend.holdout_rows, "metric": blend.metric,
                "holdout_scores": list(blend.holdout_scores),
                "blend_score": blend.blend_score,
                "trees": None if blend.trees is None else list(blend.trees),
                "trees_from": None if blend.trees_from is None else {
                    "trees": blend.trees_from.trees, "rows": blend.trees_from.rows}},
        },
    }


def _register(workspace: Workspace, parent: LoadedModel, model: TabularModel, *,
              lineage: dict[str, JSONValue], metrics: dict[str, Any], n_rows: int
              ) -> ModelVersion:
    """The new version, with the parent's monitoring reference, profile and hash key."""
    with tempfile.TemporaryDirectory(prefix="trainforge-update-") as scratch:
        extra_files = {}
        for file_name in _KEPT_FILES:
            content = workspace.registry.package_file(parent.ref, file_name)
            if content is not None:
                (Path(scratch) / file_name).write_bytes(content)
                extra_files[file_name] = Path(scratch) / file_name
        return workspace.registry.register(
            model, name=parent.name, metrics=metrics, lineage=lineage, extra_files=extra_files,
            description=f"{parent.ref} updated on {n_rows:,} labelled rows")
