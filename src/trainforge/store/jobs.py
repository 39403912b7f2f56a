"""The job queue, kept in the store: submitted by the API, claimed and run by workers.

A job moves ``queued → running → succeeded | failed | cancelled``. A worker claims the oldest
queued job under a row lock (Postgres) or the database's write lock (SQLite), so one claimer
wins each job and the others take the next, then touches ``heartbeat_at`` while it runs. A
job whose heartbeat is older than ``stale_after_s`` lost its worker (killed, machine gone):
``requeue_stale`` puts it back in the queue, and the next attempt resumes from the run's
checkpoints. Queued jobs are rows, so they survive a server restart.

Cancelling a queued job is immediate; a running one gets ``cancel_requested`` and its worker
stops at its next check.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from typing_extensions import TypedDict  # pydantic reads it on Python 3.11

from trainforge.errors import JobNotFound
from trainforge.store.clock import as_utc, utc_now
from trainforge.store.handle import StoreHandle
from trainforge.store.json_values import to_json_value
from trainforge.store.resources import Used
from trainforge.store.tables import job_logs, jobs

FINISHED = ("succeeded", "failed", "cancelled")
MAX_ATTEMPTS = 3  # a job whose worker died this many times fails instead of looping
MAX_LOG_CHARS = 4_000  # one log line is cut here: a runaway print cannot fill the store


class JobRecord(TypedDict):
    """One row of ``jobs``, times in UTC."""

    id: str
    kind: str
    status: str  # one of tables.JOB_STATUSES
    config: dict[str, Any]  # JSON: the job's validated request
    submitted_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    worker: str | None
    attempts: int
    cancel_requested: bool
    run_id: str | None
    result: dict[str, Any] | None  # JSON: what the job made, once succeeded
    error: str | None
    cpu_s: float | None  # CPU-seconds its workers spent on it, once an attempt ended
    peak_memory_mb: float | None  # its workers' peak resident memory while they ran it


class LogLine(TypedDict):
    """One line of a job's log; ``id`` grows, so a client polls with the last it saw."""

    id: int
    at: datetime
    text: str


def submit_job(ws: StoreHandle, *, kind: str, config: dict[str, Any],
               submitted_by: str | None = None) -> str:
    """Queue a job; returns its id (32 hex digits)."""
    job_id = uuid.uuid4().hex
    with ws.engine.begin() as connection:
        connection.execute(sa.insert(jobs).values(
            id=job_id, kind=kind, status="queued", config=to_json_value(config, where="config"),
            submitted_by=submitted_by, created_at=utc_now(), attempts=0,
            cancel_requested=False))
    return job_id


def claim_job(ws: StoreHandle, *, worker: str, kinds: tuple[str, ...] | None = None
              ) -> JobRecord | None:
    """Take the oldest queued job for ``worker``; None when the queue is empty.

    On Postgres the oldest queued row is locked with ``FOR UPDATE SKIP LOCKED``: a worker
    racing others skips the rows they are taking and gets the next, so "None" means no job
    is queued (a select-then-update retried 10 times told racing workers "empty" with 80
    jobs queued). SQLite has no row locks and needs none: ``BEGIN IMMEDIATE`` makes the
    whole claim one writer at a time.
    """
    query = (sa.select(jobs.c.id).where(jobs.c.status == "queued")
             .order_by(jobs.c.created_at, jobs.c.id).limit(1)
             .with_for_update(skip_locked=True))
    if kinds is not None:
        query = query.where(jobs.c.kind.in_(kinds))
    with ws.engine.begin() as connection:
        job_id = connection.execute(query).scalar()
        if job_id is None:
            return None
        now = utc_now()
        claimed = connection.execute(
            sa.update(jobs).where(jobs.c.id == job_id)
            .values(status="running", worker=worker, started_at=now, heartbeat_at=now,
                    attempts=jobs.c.attempts + 1)
            .returning(*jobs.c)).one()
    return _job_record(claimed)


def heartbeat(ws: StoreHandle, job_id: str, *, worker: str) -> bool:
    """Touch the job's heartbeat; returns whether a cancel was requested (or the job was taken
    from this worker), i.e. whether the worker should stop."""
    with ws.engine.begin() as connection:
        connection.execute(sa.update(jobs).where(jobs.c.id == job_id, jobs.c.worker == worker,
                                                 jobs.c.status == "running")
                           .values(heartbeat_at=utc_now()))
        row = connection.execute(sa.select(jobs.c.cancel_requested, jobs.c.worker,
                                           jobs.c.status).where(jobs.c.id == job_id)).first()
    return row is None or bool(row.cancel_requested) or row.worker != worker \
        or row.status != "running"


def hand_over(ws: StoreHandle, job_id: str, *, claimed_by: str, runner: str) -> bool:
    """Pass a running job that ``claimed_by`` holds to ``runner`` (the Ray backend's
    dispatcher claims, a task on some node runs), touching its heartbeat; False when the job
    is no longer the claimer's (cancelled, or requeued meanwhile): the runner must not run it."""
    with ws.engine.begin() as connection:
        done = connection.execute(
            sa.update(jobs).where(jobs.c.id == job_id, jobs.c.worker == claimed_by,
                                  jobs.c.status == "running")
            .values(worker=runner, heartbeat_at=utc_now()))
    return done.rowcount == 1


def set_run(ws: StoreHandle, job_id: str, run_id: str) -> None:
    """Remember the run a job started, so that a retry resumes it from its checkpoints."""
    with ws.engine.begin() as connection:
        connection.execute(sa.update(jobs).where(jobs.c.id == job_id).values(run_id=run_id))


def finish_job(ws: StoreHandle, job_id: str, *, status: str, worker: str,
               result: dict[str, Any] | None = None, error: str | None = None,
               used: Used | None = None) -> bool:
    """Record the end of a job run by ``worker``, and what this attempt ``used`` (added to
    what earlier attempts used); False if the job is no longer its own (it was requeued after
    a missed heartbeat and another worker has it)."""
    if status not in FINISHED:
        raise ValueError(f"a job finishes as one of {FINISHED}, not {status!r}")
    with ws.engine.begin() as connection:
        done = connection.execute(
            sa.update(jobs).where(jobs.c.id == job_id, jobs.c.worker == worker,
                                  jobs.c.status == "running")
            .values(status=status, finished_at=utc_now(), error=error,
                    result=None if result is None else to_json_value(result, where="result"),
                    **_adding(used)))
    return done.rowcount == 1


def _adding(used: Used | None) -> dict[str, Any]:
    """Column values that add an attempt's CPU-seconds to the job's, and keep the higher of
    the peaks: a job's cost counts every attempt a worker saw to its end."""
    if used is None:
        return {}
    peak = sa.func.coalesce(jobs.c.peak_memory_mb, 0.0)
    return {"cpu_s": sa.func.coalesce(jobs.c.cpu_s, 0.0) + used.cpu_s,
            "peak_memory_mb": sa.case((peak > used.peak_memory_mb, peak),
                                      else_=used.peak_memory_mb)}


def release_job(ws: StoreHandle, job_id: str, *, worker: str, used: Used | None = None
                ) -> bool:
    """Put a running job of ``worker`` back in the queue because the worker is shutting down
    (not failing): the attempt does not count, and its run resumes on the next claim; what it
    ``used`` does count in the job's cost. False if the job is no longer this worker's."""
    with ws.engine.begin() as connection:
        done = connection.execute(
            sa.update(jobs).where(jobs.c.id == job_id, jobs.c.worker == worker,
                                  jobs.c.status == "running")
            .values(status="queued", worker=None, heartbeat_at=None,
                    attempts=sa.case((jobs.c.attempts > 0, jobs.c.attempts - 1), else_=0),
                    **_adding(used)))
    return done.rowcount == 1


def cancel_job(ws: StoreHandle, job_id: str) -> JobRecord:
    """Cancel a queued job now, or ask a running one's worker to stop; returns the job."""
    with ws.engine.begin() as connection:
        job = get_job(ws, job_id, connection=connection)
        if job["status"] == "queued":
            connection.execute(sa.update(jobs).where(jobs.c.id == job_id,
                                                     jobs.c.status == "queued")
                               .values(status="cancelled", finished_at=utc_now(),
                                       cancel_requested=True))
        elif job["status"] == "running":
            connection.execute(sa.update(jobs).where(jobs.c.id == job_id)
                               .values(cancel_requested=True))
        return get_job(ws, job_id, connection=connection)


def requeue_stale(ws: StoreHandle, *, stale_after_s: float) -> list[str]:
    """Put running jobs whose heartbeat is older than ``stale_after_s`` back in the queue
    (or fail them after ``MAX_ATTEMPTS``); returns the ids requeued or failed."""
    cutoff = utc_now() - timedelta(seconds=stale_after_s)
    moved = []
    with ws.engine.begin() as connection:
        stale = connection.execute(sa.select(jobs.c.id, jobs.c.attempts, jobs.c.worker,
                                             jobs.c.cancel_requested)
                                   .where(jobs.c.status == "running",
                                          jobs.c.heartbeat_at < cutoff)).all()
        for row in stale:
            lost = f"worker {row.worker} stopped sending heartbeats"
            if row.cancel_requested:
                values: dict[str, Any] = {"status": "cancelled", "finished_at": utc_now(),
                                          "error": f"cancelled ({lost})"}
            elif row.attempts >= MAX_ATTEMPTS:
                values = {"status": "failed", "finished_at": utc_now(),
                          "error": f"{lost} on {row.attempts} attempts; giving up"}
            else:
                values = {"status": "queued", "worker": None, "heartbeat_at": None}
            updated = connection.execute(sa.update(jobs).where(
                jobs.c.id == row.id, jobs.c.status == "running",
                jobs.c.heartbeat_at < cutoff).values(**values))
            if updated.rowcount == 1:
                connection.execute(sa.insert(job_logs).values(
                    job_id=row.id, at=utc_now(),
                    text=f"{lost}; " + ("requeued" if values["status"] == "queued"
                                        else values["status"])))
                moved.append(row.id)
    return moved


def get_job(ws: StoreHandle, job_id: str, *, connection: sa.Connection | None = None
            ) -> JobRecord:
    """The job as a dict; JobNotFound if there is none with that id."""
    query = sa.select(jobs).where(jobs.c.id == job_id)
    if connection is None:
        with ws.engine.connect() as own:
            row = own.execute(query).first()
    else:
        row = connection.execute(query).first()
    if row is None:
        raise JobNotFound(job_id)
    return _job_record(row)


def list_jobs(ws: StoreHandle, *, status: str | None = None, limit: int = 100
              ) -> list[JobRecord]:
    """The newest jobs first, optionally of one status."""
    query = sa.select(jobs).order_by(jobs.c.created_at.desc()).limit(limit)
    if status is not None:
        query = query.where(jobs.c.status == status)
    with ws.engine.connect() as connection:
        return [_job_record(row) for row in connection.execute(query)]


def append_log(ws: StoreHandle, job_id: str, text: str) -> None:
    """Add one line to the job's log."""
    with ws.engine.begin() as connection:
        connection.execute(sa.insert(job_logs).values(job_id=job_id, at=utc_now(),
                                                      text=text[:MAX_LOG_CHARS]))


def read_log(ws: StoreHandle, job_id: str, *, after: int = 0, limit: int = 1_000
             ) -> list[LogLine]:
    """Log lines after line id ``after`` (0: from the start), oldest first: a client polls
    with the last id it saw."""
    get_job(ws, job_id)  # JobNotFound for an unknown id, rather than an empty log
    query = (sa.select(job_logs.c.id, job_logs.c.at, job_logs.c.text)
             .where(job_logs.c.job_id == job_id, job_logs.c.id > after)
             .order_by(job_logs.c.id).limit(limit))
    with ws.engine.connect() as connection:
        return [LogLine(id=row.id, at=as_utc(row.at), text=row.text)
                for row in connection.execute(query)]


def _job_record(row: sa.Row[Any]) -> JobRecord:
    return JobRecord(
        id=row.id, kind=row.kind, status=row.status, config=row.config,
        submitted_by=row.submitted_by, created_at=as_utc(row.created_at),
        started_at=as_utc(row.started_at), finished_at=as_utc(row.finished_at),
        heartbeat_at=as_utc(row.heartbeat_at), worker=row.worker, attempts=row.attempts,
        cancel_requested=bool(row.cancel_requested), run_id=row.run_id, result=row.result,
        error=row.error, cpu_s=row.cpu_s, peak_memory_mb=row.peak_memory_mb)


def count_silent(ws: StoreHandle, *, stale_after_s: float) -> int:
    """How many running jobs have sent no heartbeat for ``stale_after_s``: their workers are
    gone (the server's readiness check)."""
    cutoff = utc_now() - timedelta(seconds=stale_after_s)
    with ws.engine.connect() as connection:
        found = connection.execute(sa.select(sa.func.count()).select_from(jobs).where(
            jobs.c.status == "running", jobs.c.heartbeat_at < cutoff)).scalar()
    return int(found or 0)
