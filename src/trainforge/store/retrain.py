"""The retraining policies (one per model name) and the events that record every decision
they led to: a retrain queued, succeeded or failed, or one skipped and why."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from typing_extensions import TypedDict  # pydantic reads it on Python 3.11

from trainforge.store.clock import as_utc, utc_now
from trainforge.store.handle import StoreHandle
from trainforge.store.tables import jobs, retrain_events, retrain_policies, runs

# beyond this many failures in a row the back-off is at its longest anyway
FAILURES_COUNTED = 16


class PolicyRecord(TypedDict):
    """One row of ``retrain_policies``: a model's policy (``RetrainPolicy`` as JSON)."""

    model_name: str
    policy: dict[str, Any]
    updated_by: str | None
    updated_at: datetime


class RetrainEvent(TypedDict):
    """One row of ``retrain_events``: a decision, what it started and how that ended."""

    id: int
    model_name: str
    at: datetime
    trigger: str  # drift, metric, labels, schedule or manual
    reason: str
    job_id: str | None
    run_id: str | None
    dataset_id: int | None
    model_version: int | None  # the challenger it registered
    outcome: str  # queued, succeeded, failed or skipped


def save_policy(ws: StoreHandle, model_name: str, policy: dict[str, Any], *,
                updated_by: str | None) -> PolicyRecord:
    """Set ``model_name``'s policy, replacing the one it had; returns the row."""
    row = PolicyRecord(model_name=model_name, policy=policy, updated_by=updated_by,
                       updated_at=utc_now())
    with ws.engine.begin() as connection:
        connection.execute(sa.delete(retrain_policies)
                           .where(retrain_policies.c.model_name == model_name))
        connection.execute(sa.insert(retrain_policies).values(row))
    return row


def get_policy(ws: StoreHandle, model_name: str) -> PolicyRecord | None:
    with ws.engine.connect() as connection:
        row = connection.execute(sa.select(retrain_policies)
                                 .where(retrain_policies.c.model_name == model_name)).first()
    return None if row is None else _policy(row)


def list_policies(ws: StoreHandle) -> list[PolicyRecord]:
    """Every model's policy, by model name."""
    with ws.engine.connect() as connection:
        rows = connection.execute(sa.select(retrain_policies)
                                  .order_by(retrain_policies.c.model_name)).all()
    return [_policy(row) for row in rows]


def record_event(ws: StoreHandle, *, model_name: str, trigger: str, reason: str, outcome: str,
                 job_id: str | None = None, run_id: str | None = None,
                 dataset_id: int | None = None, model_version: int | None = None,
                 at: datetime | None = None) -> int:
    """Add a decision; returns its id."""
    with ws.engine.begin() as connection:
        inserted = connection.execute(sa.insert(retrain_events).values(
            model_name=model_name, at=at or utc_now(), trigger=trigger, reason=reason,
            job_id=job_id, run_id=run_id, dataset_id=dataset_id, model_version=model_version,
            outcome=outcome).returning(retrain_events.c.id))
        return int(inserted.scalar_one())


def claim_retrain(ws: StoreHandle, *, model_name: str, trigger: str, reason: str,
                  at: datetime | None = None) -> int | None:
    """Record a retrain of ``model_name`` as queued, unless one is queued already: the id of
    the new event, or None when another checker (another server process) queued one first.

    One conditional insert decides, under ``lock_model``: the second checker waits for the
    first to commit, and its insert then sees that row."""
    at = at or utc_now()
    already = sa.exists().where(retrain_events.c.model_name == model_name,
                                retrain_events.c.outcome == "queued")
    row = {"model_name": model_name, "at": at, "trigger": trigger, "reason": reason,
           "outcome": "queued"}
    values = sa.select(*(sa.literal(value, retrain_events.c[key].type)
                         for key, value in row.items())).where(~already)
    claim = sa.insert(retrain_events).from_select(list(row), values) \
        .returning(retrain_events.c.id)
    with ws.engine.begin() as connection:
        lock_model(connection, model_name)
        inserted = connection.execute(claim).scalar_one_or_none()
    return None if inserted is None else int(inserted)


def lock_model(connection: sa.Connection, model_name: str) -> None:
    """Hold ``model_name``'s retrain lock until ``connection``'s transaction ends.

    SQLite: nothing to do, every transaction takes the write lock as it begins
    (``store.engine``). Postgres: a transaction-scoped advisory lock on the name's hash; a
    row lock would not do, as a model asked to "retrain now" may have no policy row to lock."""
    if connection.dialect.name == "postgresql":
        digest = hashlib.sha256(f"trainforge.retrain:{model_name}".encode()).digest()
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(
            int.from_bytes(digest[:8], "big", signed=True))))


def attach_job(ws: StoreHandle, event_id: int, *, job_id: str | None,
               dataset_id: int | None) -> None:
    """Record the job a claimed retrain queued and the dataset it trains on."""
    with ws.engine.begin() as connection:
        connection.execute(sa.update(retrain_events).where(retrain_events.c.id == event_id)
                           .values(job_id=job_id, dataset_id=dataset_id))


def drop_event(ws: StoreHandle, event_id: int) -> None:
    """Forget a claimed retrain that started nothing (its failure is already recorded)."""
    with ws.engine.begin() as connection:
        connection.execute(sa.delete(retrain_events).where(retrain_events.c.id == event_id))


def finish_event(ws: StoreHandle, event_id: int, *, outcome: str, run_id: str | None = None,
                 model_version: int | None = None, reason: str | None = None) -> None:
    """Record how a queued retrain ended (``reason``: replaces the text, e.g. with the error)."""
    values: dict[str, Any] = {"outcome": outcome, "run_id": run_id,
                              "model_version": model_version}
    if reason is not None:
        values["reason"] = reason
    with ws.engine.begin() as connection:
        connection.execute(sa.update(retrain_events).where(retrain_events.c.id == event_id)
                           .values(values))


def fail_if_queued(ws: StoreHandle, event_id: int, *, reason: str) -> None:
    """Record a retrain that broke before it could record its own end as failed."""
    with ws.engine.begin() as connection:
        connection.execute(sa.update(retrain_events).where(
            retrain_events.c.id == event_id, retrain_events.c.outcome == "queued")
            .values(outcome="failed", reason=reason))


def list_events(ws: StoreHandle, model_name: str, *, limit: int = 20,
                outcome: str | None = None) -> list[RetrainEvent]:
    """``model_name``'s decisions, newest first (only those with ``outcome`` if given)."""
    query = sa.select(retrain_events).where(retrain_events.c.model_name == model_name)
    if outcome is not None:
        query = query.where(retrain_events.c.outcome == outcome)
    with ws.engine.connect() as connection:
        rows = connection.execute(query.order_by(retrain_events.c.at.desc(),
                                                 retrain_events.c.id.desc()).limit(limit)).all()
    return [_event(row) for row in rows]


def models_with_queued(ws: StoreHandle) -> list[str]:
    """The models that have a retrain queued or running."""
    with ws.engine.connect() as connection:
        return list(connection.execute(sa.select(retrain_events.c.model_name).distinct()
                                       .where(retrain_events.c.outcome == "queued")).scalars())


def get_event(ws: StoreHandle, event_id: int) -> RetrainEvent:
    with ws.engine.connect() as connection:
        row = connection.execute(sa.select(retrain_events)
                                 .where(retrain_events.c.id == event_id)).one()
    return _event(row)


def last_started_at(ws: StoreHandle, model_name: str) -> datetime | None:
    """When ``model_name``'s latest retrain that is under way or succeeded started: a failed
    one taught nothing, so it holds no next one back (``min_interval``, the schedule)."""
    with ws.engine.connect() as connection:
        at: datetime | None = connection.execute(
            sa.select(sa.func.max(retrain_events.c.at)).where(
                retrain_events.c.model_name == model_name,
                retrain_events.c.outcome.in_(("queued", "succeeded")))).scalar_one()
    return as_utc(at)


def failures_in_a_row(ws: StoreHandle, model_name: str) -> tuple[int, datetime | None]:
    """How many of ``model_name``'s latest retrains failed since one last succeeded or was
    queued (skips are not retrains), and when the latest of those failures started."""
    with ws.engine.connect() as connection:
        rows = connection.execute(
            sa.select(retrain_events.c.outcome, retrain_events.c.at)
            .where(retrain_events.c.model_name == model_name,
                   retrain_events.c.outcome != "skipped")
            .order_by(retrain_events.c.at.desc(), retrain_events.c.id.desc())
            .limit(FAILURES_COUNTED)).all()
    failed = 0
    for row in rows:
        if row.outcome != "failed":
            break
        failed += 1
    return failed, as_utc(rows[0].at) if failed else None


def retrain_cpu_s(ws: StoreHandle, model_name: str, *, since: datetime) -> float:
    """CPU-seconds used by ``model_name``'s retrains started since ``since``: each one's job
    (as the worker measured it) or else its run."""
    job_run = sa.select(jobs.c.run_id).where(jobs.c.id == retrain_events.c.job_id) \
        .scalar_subquery()
    run_id = sa.func.coalesce(retrain_events.c.run_id, job_run)
    job_cpu = sa.select(jobs.c.cpu_s).where(jobs.c.id == retrain_events.c.job_id) \
        .scalar_subquery()
    run_cpu = sa.select(runs.c.cpu_s).where(runs.c.id == run_id).scalar_subquery()
    with ws.engine.connect() as connection:
        total = connection.execute(sa.select(sa.func.sum(sa.func.coalesce(job_cpu, run_cpu)))
                                   .where(retrain_events.c.model_name == model_name,
                                          retrain_events.c.outcome != "skipped",
                                          retrain_events.c.at >= since)).scalar_one()
    return float(total or 0.0)


def _policy(row: sa.Row[Any]) -> PolicyRecord:
    return PolicyRecord(model_name=row.model_name, policy=row.policy, updated_by=row.updated_by,
                        updated_at=as_utc(row.updated_at))


def _event(row: sa.Row[Any]) -> RetrainEvent:
    return RetrainEvent(id=row.id, model_name=row.model_name, at=as_utc(row.at),
                        trigger=row.trigger, reason=row.reason, job_id=row.job_id,
                        run_id=row.run_id, dataset_id=row.dataset_id,
                        model_version=row.model_version, outcome=row.outcome)
