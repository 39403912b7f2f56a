"""Deciding when a model is retrained: its policy (``config.RetrainPolicy``) against what the
store and the prediction log say about it now.

``gather_state`` reads the facts (labels since the model's training, its metric on the
labelled feedback, drift, its last retrain, what its retrains cost today); ``due`` is a pure
function of the policy, those facts and the time, and answers the trigger that fires (or
None), with ``blocked`` set when ``min_interval``, the cost cap or a retrain already under
way holds it back. Running the retrain is ``jobs.retrain``'s.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from trainforge.config import RetrainPolicy, duration_s
from trainforge.data.metrics import get_metric
from trainforge.data.task_kind import TaskKind
from trainforge.errors import InvalidField
from trainforge.monitoring.deployments import deployments_of
from trainforge.monitoring.drift import Window
from trainforge.monitoring.feedback import labelled_predictions
from trainforge.monitoring.monitor import monitor_deployment
from trainforge.registry.registry import Registry
from trainforge.store import retrain as retrain_store
from trainforge.store.handle import FileStoreHandle, StoreHandle
from trainforge.store.tables import feedback

# how many features drift in deployment NAME's latest window; None: not measured
DriftCount = Callable[[str], int | None]
TRIGGERS = ("drift", "metric", "labels", "schedule", "manual")
DRIFT_WINDOW = Window(n_rows=1_000)  # what `trainforge monitor` shows by default
DRIFT_LOOK_BACK = timedelta(days=1)
BACKOFF_FIRST = timedelta(minutes=10)  # after one failed retrain (see ``backoff``)
BACKOFF_MOST = timedelta(days=1)


def no_drift_measured(deployment: str) -> int | None:
    """Nothing measured: no feature counts as drifting (for tests of the other triggers)."""
    return None


def drift_monitor(store: StoreHandle, registry: Registry, log_root: Path) -> DriftCount:
    """The drift trigger's input: the features drifted in the deployment's latest window of
    1,000 logged rows of the last day, as `trainforge monitor` judges them; None when
    nothing can be compared (no traffic, or a package without a reference)."""

    def drifted(deployment: str) -> int | None:
        latest = monitor_deployment(deployment, store=store, registry=registry,
                                    log_root=log_root, window=DRIFT_WINDOW,
                                    since=datetime.now(UTC) - DRIFT_LOOK_BACK).latest
        return None if latest is None else len(latest.drifted_features)

    return drifted


@dataclass(frozen=True)
class RetrainState:
    """What a policy is judged against, for one model name."""

    model_name: str
    version: int  # the version whose performance is judged: the one deployed (or the latest)
    trained_at: datetime  # when its newest version was registered: later labels are new
    new_labels: int
    metric: str
    lower_is_better: bool
    metric_value: float | None  # on the labelled feedback of ``version``; None: no labels
    n_scored: int  # labelled predictions it was computed on
    drifted_features: int | None
    last_retrain_at: datetime | None  # the latest retrain under way or succeeded (not failed)
    cpu_s_today: float  # CPU-seconds of this model's retrains started today (UTC)
    in_flight: bool  # a retrain is queued or running
    # the retrains that failed since the last one that succeeded, and when the latest began
    failures: int = 0
    last_failure_at: datetime | None = None


@dataclass(frozen=True)
class Trigger:
    """Why a retrain is due, and (``blocked``) why it may not start now."""

    trigger: str  # one of TRIGGERS
    reason: str
    blocked: str | None = None


def due(policy: RetrainPolicy, state: RetrainState, *, now: datetime) -> Trigger | None:
    """The first trigger of ``policy`` that fires on ``state`` at ``now`` (drift, metric,
    labels, schedule), with what blocks it, if anything; None when none fires or the policy
    is disabled."""
    if not policy.enabled:
        return None
    fired = _fired(policy, state, now=now)
    if fired is None:
        return None
    return Trigger(fired.trigger, fired.reason, blocked(policy, state, now=now))


def _fired(policy: RetrainPolicy, state: RetrainState, *, now: datetime) -> Trigger | None:
    drifted = state.drifted_features
    if policy.drifted_features is not None and drifted is not None \
            and drifted >= policy.drifted_features:
        return Trigger("drift", f"{drifted} features drifted in the latest window (policy: "
                                f"at least {policy.drifted_features})")
    value = state.metric_value
    if policy.metric_floor is not None and value is not None and (
            value > policy.metric_floor if state.lower_is_better else value < policy.metric_floor):
        side = "above" if state.lower_is_better else "below"
        return Trigger("metric", f"{state.metric} of version {state.version} on "
                                 f"{state.n_scored} labelled predictions is {value:.4g}, {side} "
                                 f"the floor {policy.metric_floor:g}")
    if policy.new_labels is not None and state.new_labels >= policy.new_labels:
        return Trigger("labels", f"{state.new_labels} labels arrived since version "
                                 f"{state.version} was trained (policy: {policy.new_labels})")
    if policy.every is not None:
        since = state.last_retrain_at or state.trained_at
        if now - since >= timedelta(seconds=duration_s(policy.every)):
            return Trigger("schedule", f"the schedule (every {policy.every}) is due: last "
                                       f"trained {since:%Y-%m-%d %H:%M} UTC")
    return None


def blocked(policy: RetrainPolicy, state: RetrainState, *, now: datetime) -> str | None:
    """Why a retrain may not start now: one under way, ``min_interval``, a back-off after
    failures, or the cost cap."""
    if state.in_flight:
        return "a retrain of this model is already queued or running"
    wait = backoff(state.failures)
    if state.last_failure_at is not None and now - state.last_failure_at < wait:
        return (f"back-off: the last {state.failures} retrain(s) failed, the latest started "
                f"at {state.last_failure_at:%Y-%m-%d %H:%M:%S} UTC; the next try waits "
                f"{_minutes(wait)} (see the events for the error)")
    last = state.last_retrain_at
    if last is not None and now - last < timedelta(seconds=duration_s(policy.min_interval)):
        return (f"min_interval: the last retrain started at {last:%Y-%m-%d %H:%M:%S} UTC, "
                f"less than {policy.min_interval} ago")
    cap = policy.max_cpu_hours_per_day
    if cap is not None and state.cpu_s_today >= cap * 3600:
        return (f"cost cap: this model's retrains used {state.cpu_s_today / 3600:.2f} CPU-hours "
                f"today, the cap is {cap:g}")
    return None


def backoff(failures: int) -> timedelta:
    """How long a retrain waits after ``failures`` in a row: a failure teaches nothing, so it
    does not count for ``min_interval``, but a cause that persists (a broken data source, a
    job that runs out of memory) must not start a doomed job at every check of the server
    (each minute): 10 minutes after the first, doubling, at most a day."""
    if failures <= 0:
        return timedelta(0)
    return min(BACKOFF_FIRST * (1 << min(failures - 1, 16)), BACKOFF_MOST)


def _minutes(wait: timedelta) -> str:
    minutes = round(wait.total_seconds() / 60)
    return f"{minutes} minutes" if minutes < 120 else f"{minutes / 60:g} hours"


def check_policy(policy: RetrainPolicy, manifest: Mapping[str, Any]) -> None:
    """Refuse what the policy's fields alone could not rule out: a model that learns no label,
    or a metric floor outside its metric's range. InvalidField names the field."""
    kind = TaskKind(manifest["task"]["kind"])
    if not kind.is_supervised:
        raise InvalidField("model", f"{manifest['name']} is a {kind.value} model: it learns "
                                    "no label, so feedback cannot retrain it")
    floor = policy.metric_floor
    if floor is None:
        return
    metric = get_metric(manifest["task"]["metric"], kind)
    # scores whose best is 1 (accuracy, AUC, R²...) never exceed it; an error is at least 0;
    # all but R² are at least 0
    low = -math.inf if metric.name == "r2" else 0.0
    high = metric.perfect if metric.higher_is_better else math.inf
    if not low <= floor <= high:
        shown = f"[{low:g}, {high:g}]" if math.isfinite(low) else f"at most {high:g}"
        raise InvalidField("metric_floor", f"{floor:g} is outside the range of {metric.name} "
                                           f"({shown}), the metric of model "
                                           f"{manifest['name']}")


def gather_state(store: FileStoreHandle, log_root: Path, model_name: str, *,
                 drifted_features: DriftCount = no_drift_measured,
                 now: datetime | None = None) -> RetrainState:
    """What the store and the log say about ``model_name`` now. ModelNotFound if it has no
    version."""
    now = now or datetime.now(UTC)
    registry = Registry(store)
    versions = registry.versions(model_name)
    deployed = deployments_of(store, model_name, log_root=log_root)
    version = max((d["model_version"] for d in deployed), default=versions[-1].version)
    manifest = registry.show(f"{model_name}:{version}")
    judged_since = next(v.created_at for v in versions if v.version == version)
    scored = pd.concat([labelled_predictions(store, log_root, d["name"], since=judged_since)
                        for d in deployed] or [pd.DataFrame()], ignore_index=True)
    if len(scored):
        scored = scored[scored["version"] == version]
    metric = get_metric(manifest["task"]["metric"], TaskKind(manifest["task"]["kind"]))
    counts = [n for n in (drifted_features(d["name"]) for d in deployed) if n is not None]
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    failures, last_failure_at = retrain_store.failures_in_a_row(store, model_name)
    return RetrainState(
        model_name=model_name, version=version, trained_at=versions[-1].created_at,
        new_labels=labels_since(store, model_name, since=versions[-1].created_at),
        metric=metric.name, lower_is_better=not metric.higher_is_better,
        metric_value=feedback_metric(scored, manifest), n_scored=len(scored),
        drifted_features=max(counts) if counts else None,
        last_retrain_at=retrain_store.last_started_at(store, model_name),
        cpu_s_today=retrain_store.retrain_cpu_s(store, model_name, since=midnight),
        in_flight=bool(retrain_store.list_events(store, model_name, limit=1,
                                                 outcome="queued")),
        failures=failures, last_failure_at=last_failure_at)


def labels_since(store: StoreHandle, model_name: str, *, since: datetime) -> int:
    """Current labels received after ``since`` for predictions any version of
    ``model_name`` answered."""
    with store.engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(feedback).where(
            feedback.c.model_name == model_name, feedback.c.replaced_at.is_(None),
            feedback.c.received_at > since)).scalar_one())


def feedback_metric(scored: pd.DataFrame, manifest: Mapping[str, Any]) -> float | None:
    """The model's task metric on labelled predictions (``labelled_predictions`` rows): its
    logged answers against the labels. None when there is none to score."""
    task = manifest["task"]
    kind = TaskKind(task["kind"])
    metric = get_metric(task["metric"], kind)
    if scored.empty or "out.prediction" not in scored:
        return None
    if kind is TaskKind.REGRESSION:
        value = metric.compute(scored["label"].astype(float).to_numpy(),
                               scored["out.prediction"].astype(float).to_numpy())
    else:
        classes = [str(c) for c in task["classes"]]
        codes = scored["label"].map({c: i for i, c in enumerate(classes)})
        proba = [f"out.proba.{c}" for c in classes]
        if all(column in scored for column in proba):
            output = scored[proba].astype(float).to_numpy()
        else:  # only the predicted class was logged: its one-hot is the output
            predicted = scored["out.prediction"].astype(str).map(
                {c: i for i, c in enumerate(classes)})
            output = np.eye(len(classes))[predicted.fillna(0).astype(int).to_numpy()]
        value = metric.compute(codes.to_numpy(), output)
    return None if math.isnan(value) else float(value)
