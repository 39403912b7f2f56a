"""Runs in the store: one training (or evaluation, or prediction) attempt, its metric series,
its outcome and the resources it used."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from typing_extensions import TypedDict  # pydantic reads it on Python 3.11

from trainforge.errors import RunNotFound
from trainforge.store.clock import as_utc, utc_now
from trainforge.store.handle import StoreHandle
from trainforge.store.json_values import to_json_value
from trainforge.store.tables import run_metrics, runs

FinalStatus = Literal["succeeded", "failed"]


class RunRecord(TypedDict):
    """One row of ``runs``, times in UTC."""

    id: str
    kind: str
    status: str  # one of tables.RUN_STATUSES
    config: dict[str, Any]  # JSON: what decides the run
    dataset_id: int | None
    metrics: dict[str, Any] | None  # JSON: the final metrics, once finished
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    peak_memory_mb: float | None
    cpu_s: float | None
    error: str | None
    model_name: str | None
    model_version: int | None


class MetricPoint(TypedDict):
    """One point of a run's metric series."""

    step: int
    value: float
    timestamp: datetime


class RunWithSeries(RunRecord):
    """A run with its metric series by key, each in step order."""

    series: dict[str, list[MetricPoint]]


def start_run(ws: StoreHandle, *, kind: str, config: dict[str, Any],
              dataset_id: int | None) -> str:
    """Record a run that starts now; returns its id (32 hex digits).

    ``config`` is what decides the run (e.g. ``TrainConfig.model_dump(mode="json")``).
    """
    run_id = uuid.uuid4().hex
    now = utc_now()
    with ws.engine.begin() as connection:
        connection.execute(sa.insert(runs).values(
            id=run_id, kind=kind, status="running", config=to_json_value(config, where="config"),
            dataset_id=dataset_id, created_at=now, started_at=now))
    return run_id


def restart_run(ws: StoreHandle, run_id: str) -> None:
    """Mark an interrupted (failed) run as running again: ``--resume`` continues it."""
    with ws.engine.begin() as connection:
        updated = connection.execute(sa.update(runs).where(runs.c.id == run_id).values(
            status="running", error=None, finished_at=None, started_at=utc_now()))
        if updated.rowcount == 0:
            raise RunNotFound(run_id)


def log_metric(ws: StoreHandle, run_id: str, key: str, value: float, *, step: int) -> None:
    """Append one point to the run's series ``key`` (loss per epoch, score per trial...)."""
    try:
        with ws.engine.begin() as connection:
            connection.execute(sa.insert(run_metrics).values(
                run_id=run_id, key=key, step=step, value=float(value), timestamp=utc_now()))
    except sa.exc.IntegrityError as error:  # the foreign key: there is no such run
        raise RunNotFound(run_id) from error


def finish_run(ws: StoreHandle, run_id: str, *, status: FinalStatus, metrics: dict[str, Any],
               peak_memory_mb: float | None, cpu_s: float | None, error: str | None = None,
               model: tuple[str, int] | None = None) -> None:
    """Record how the run ended: its final metrics, resources and the model it produced."""
    if status not in ("succeeded", "failed"):
        raise ValueError(f"a run finishes as 'succeeded' or 'failed', not {status!r}")
    now = utc_now()
    with ws.engine.begin() as connection:
        started = connection.execute(
            sa.select(runs.c.started_at).where(runs.c.id == run_id)).first()
        if started is None:
            raise RunNotFound(run_id)
        began = as_utc(started.started_at)
        connection.execute(sa.update(runs).where(runs.c.id == run_id).values(
            status=status, metrics=to_json_value(metrics, where="metrics"), finished_at=now,
            duration_s=None if began is None else (now - began).total_seconds(),
            peak_memory_mb=peak_memory_mb, cpu_s=cpu_s, error=error,
            model_name=None if model is None else model[0],
            model_version=None if model is None else model[1]))


def get_run(ws: StoreHandle, run_id: str) -> RunWithSeries:
    """Everything recorded about a run, with its metric series under ``"series"``:
    ``{key: [{"step": 0, "value": 0.71, "timestamp": ...}, ...]}`` in step order."""
    with ws.engine.connect() as connection:
        row = connection.execute(sa.select(runs).where(runs.c.id == run_id)).first()
        if row is None:
            raise RunNotFound(run_id)
        points = connection.execute(
            sa.select(run_metrics.c.key, run_metrics.c.step, run_metrics.c.value,
                      run_metrics.c.timestamp)
            .where(run_metrics.c.run_id == run_id)
            .order_by(run_metrics.c.key, run_metrics.c.step, run_metrics.c.id)).all()
    series: dict[str, list[MetricPoint]] = {}
    for point in points:
        series.setdefault(point.key, []).append(MetricPoint(
            step=point.step, value=point.value, timestamp=as_utc(point.timestamp)))
    return RunWithSeries(**_run_record(row), series=series)


def list_runs(ws: StoreHandle, limit: int = 50, *, offset: int = 0) -> list[RunRecord]:
    """The most recent runs first (without their metric series); ``offset`` pages on."""
    with ws.engine.connect() as connection:
        rows = connection.execute(
            sa.select(runs).order_by(runs.c.created_at.desc(), runs.c.id).limit(limit)
            .offset(offset)).all()
    return [_run_record(row) for row in rows]


def resolve_run_id(ws: StoreHandle, given: str) -> str:
    """The id of the one run whose id starts with ``given`` (ids are long to type); ``given``
    itself when none or several do, so that get_run names it in its error."""
    if not given or not all(c in "0123456789abcdef" for c in given):
        return given
    with ws.engine.connect() as connection:
        found = connection.execute(sa.select(runs.c.id).where(runs.c.id.startswith(given))
                                   .limit(2)).scalars().all()
    return found[0] if len(found) == 1 else given


def _run_record(row: sa.Row[Any]) -> RunRecord:
    return RunRecord(
        id=row.id, kind=row.kind, status=row.status, config=row.config,
        dataset_id=row.dataset_id, metrics=row.metrics, created_at=as_utc(row.created_at),
        started_at=as_utc(row.started_at), finished_at=as_utc(row.finished_at),
        duration_s=row.duration_s, peak_memory_mb=row.peak_memory_mb, cpu_s=row.cpu_s,
        error=row.error, model_name=row.model_name, model_version=row.model_version)


def peak_memory_mb() -> float:
    """This process's peak resident memory so far, for a run's record."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB
