"""What serving each deployment cost, per day, and what jobs cost, per day.

Every server process keeps its own ``deployment_usage`` row for each deployment it answered
for today (its key has ``process``, host:pid) and writes the row whole, so no process reads
another's counts to add to them and a write that failed is simply made again. Readers sum
over processes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from typing_extensions import TypedDict  # pydantic reads it on Python 3.11

from trainforge.store.clock import as_utc, utc_now
from trainforge.store.handle import StoreHandle
from trainforge.store.tables import deployment_usage, jobs

MAX_PROCESS_CHARS = 100  # the column's width: a long host name is cut, its pid kept


class DayUsage(TypedDict):
    """One deployment's day, summed over the processes that served it."""

    deployment: str
    day: str  # YYYY-MM-DD, UTC
    requests: int
    predictions: int
    cpu_s: float
    peak_memory_mb: float | None  # the highest of its processes' peaks that day
    processes: int


class JobsDay(TypedDict):
    """The jobs that ended on one day (UTC): how many, and the CPU-seconds they used."""

    day: str
    jobs: int
    cpu_s: float


def process_key(host: str, pid: int) -> str:
    """``host:pid``, within the column's width."""
    suffix = f":{pid}"
    return host[:MAX_PROCESS_CHARS - len(suffix)] + suffix


def save_usage(ws: StoreHandle, *, day: str, process: str,
               served: Mapping[str, tuple[int, int, float]], peak_memory_mb: float | None
               ) -> None:
    """Write ``process``'s totals on ``day`` for each deployment it ``served`` (name →
    requests, predictions, CPU-seconds), replacing its earlier ones, in one transaction."""
    now = utc_now()
    usage = deployment_usage.c
    with ws.engine.begin() as connection:
        for deployment, (requests, predictions, cpu_s) in served.items():
            values = {"requests": requests, "predictions": predictions, "cpu_s": cpu_s,
                      "peak_memory_mb": peak_memory_mb, "updated_at": now}
            # only this process writes this row, so an update-else-insert cannot race
            if connection.execute(sa.update(deployment_usage).where(
                    usage.deployment == deployment, usage.day == day, usage.process == process
                    ).values(values)).rowcount:
                continue
            connection.execute(sa.insert(deployment_usage).values(
                deployment=deployment, day=day, process=process, **values))


def first_day(days: int, *, today: date | None = None) -> str:
    """The first of the last ``days`` days, today (UTC) included, as YYYY-MM-DD."""
    return ((today or utc_now().date()) - timedelta(days=days - 1)).isoformat()


def usage_by_day(ws: StoreHandle, *, since: str, deployment: str | None = None
                 ) -> list[DayUsage]:
    """Each deployment's days from ``since`` (YYYY-MM-DD) on, oldest first, summed over
    processes; one deployment's only when ``deployment`` is given."""
    usage = deployment_usage.c
    query = (sa.select(usage.deployment, usage.day, sa.func.sum(usage.requests),
                       sa.func.sum(usage.predictions), sa.func.sum(usage.cpu_s),
                       sa.func.max(usage.peak_memory_mb), sa.func.count())
             .where(usage.day >= since).group_by(usage.deployment, usage.day)
             .order_by(usage.day, usage.deployment))
    if deployment is not None:
        query = query.where(usage.deployment == deployment)
    with ws.engine.connect() as connection:
        rows = connection.execute(query).all()
    return [DayUsage(deployment=name, day=day, requests=int(requests),
                     predictions=int(predictions), cpu_s=float(cpu_s),
                     peak_memory_mb=None if peak is None else float(peak),
                     processes=int(processes))
            for name, day, requests, predictions, cpu_s, peak, processes in rows]


def deployments_with_usage(ws: StoreHandle) -> list[str]:
    """Every deployment name that has usage recorded (a removed deployment's history stays)."""
    with ws.engine.connect() as connection:
        return list(connection.execute(sa.select(deployment_usage.c.deployment).distinct()
                                       .order_by(deployment_usage.c.deployment)).scalars())


def jobs_by_day(ws: StoreHandle, *, since: str) -> list[JobsDay]:
    """The jobs that ended from ``since`` (YYYY-MM-DD) on, per day, oldest first."""
    start = datetime.fromisoformat(since).replace(tzinfo=utc_now().tzinfo)
    query = sa.select(jobs.c.finished_at, jobs.c.cpu_s).where(jobs.c.finished_at >= start)
    counted: defaultdict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    with ws.engine.connect() as connection:
        for finished_at, cpu_s in connection.execute(query):
            day = counted[as_utc(finished_at).date().isoformat()]
            day[0] += 1
            day[1] += cpu_s or 0.0
    return [JobsDay(day=day, jobs=int(n), cpu_s=cpu_s)
            for day, (n, cpu_s) in sorted(counted.items())]
