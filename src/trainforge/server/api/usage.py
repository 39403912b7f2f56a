"""``/api/v1/usage`` and ``/api/v1/deployments/{name}/usage``: what serving and jobs cost,
per day (UTC), summed over the server processes that did the work; with money when the
server has a rate (``--cost-per-cpu-hour``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from trainforge.config import CostRate
from trainforge.errors import DeploymentNotFound
from trainforge.registry.refs import check_name
from trainforge.server.api.bodies import BoundedBodyRoute
from trainforge.server.api.statuses import SIGNED_IN, documented
from trainforge.server.auth import require, state_of
from trainforge.store import deployments as deployment_records
from trainforge.store.access import Principal
from trainforge.store.usage import deployments_with_usage, first_day, jobs_by_day, usage_by_day

MAX_DAYS = 366
Viewer = Annotated[Principal, Depends(require("viewer", "read usage"))]
Days = Annotated[int, Query(ge=1, le=MAX_DAYS, description="the last N days, today included")]


class ServingDay(BaseModel):
    deployment: str
    day: str  # YYYY-MM-DD, UTC
    requests: int
    predictions: int
    cpu_s: float
    peak_memory_mb: float | None  # the highest peak of the processes that served it
    processes: int  # server processes that answered for it that day
    cost: float | None  # with a rate set


class UsageTotal(BaseModel):
    requests: int
    predictions: int
    cpu_s: float
    cost: float | None


class DeploymentUsage(BaseModel):
    deployment: str
    since: str
    currency: str | None  # None: no rate set, no cost shown
    days: list[ServingDay]  # oldest first; a day without requests has no row
    total: UsageTotal


class JobsDay(BaseModel):
    day: str
    jobs: int  # jobs that ended that day
    cpu_s: float
    cost: float | None


class Day(BaseModel):
    day: str
    serving_cpu_s: float
    jobs_cpu_s: float
    cpu_s: float
    cost: float | None


class Usage(BaseModel):
    since: str
    currency: str | None
    days: list[Day]  # serving and jobs together, oldest first
    deployments: list[ServingDay]
    jobs: list[JobsDay]


def rate_of(request: Request) -> CostRate | None:
    rate: CostRate | None = state_of(request).config.cost_rate
    return rate


def with_cost(row: Mapping[str, Any], rate: CostRate | None) -> dict[str, Any]:
    """``row`` and what its ``cpu_s`` cost (None without a rate)."""
    return {**row, "cost": None if rate is None else rate.cost(row["cpu_s"])}


def priced(record: Mapping[str, Any], rate: CostRate | None) -> dict[str, Any]:
    """A job or run, with what its ``cpu_s`` cost and in which currency (None, None without a
    rate, or before it ended)."""
    return {**record, "cost": None if rate is None else rate.cost(record.get("cpu_s")),
            "currency": None if rate is None else rate.currency}


def _total(days: Sequence[Mapping[str, Any]], rate: CostRate | None) -> dict[str, Any]:
    return with_cost({"requests": sum(d["requests"] for d in days),
                      "predictions": sum(d["predictions"] for d in days),
                      "cpu_s": sum(d["cpu_s"] for d in days)}, rate)


def _days(serving: Sequence[Mapping[str, Any]], jobs: Sequence[Mapping[str, Any]],
          rate: CostRate | None) -> list[dict[str, Any]]:
    spent: defaultdict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in serving:
        spent[row["day"]][0] += row["cpu_s"]
    for row in jobs:
        spent[row["day"]][1] += row["cpu_s"]
    return [with_cost({"day": day, "serving_cpu_s": s, "jobs_cpu_s": j, "cpu_s": s + j}, rate)
            for day, (s, j) in sorted(spent.items())]


def router() -> APIRouter:
    routes = APIRouter(tags=["usage"], route_class=BoundedBodyRoute, responses=SIGNED_IN)

    @routes.get("/usage", summary="What serving and jobs used per day: CPU-seconds, requests, "
                "and cost when the server has a rate", response_model=Usage)
    def usage(request: Request, who: Viewer, days: Days = 7) -> dict[str, Any]:
        ws, rate = state_of(request).workspace, rate_of(request)
        since = first_day(days)
        serving = usage_by_day(ws, since=since)
        jobs = jobs_by_day(ws, since=since)
        return {"since": since, "currency": None if rate is None else rate.currency,
                "days": _days(serving, jobs, rate),
                "deployments": [with_cost(row, rate) for row in serving],
                "jobs": [with_cost(row, rate) for row in jobs]}

    @routes.get("/deployments/{name}/usage", summary="What serving one deployment used per "
                "day, summed over the server processes", response_model=DeploymentUsage,
                responses=documented(404))
    def deployment_usage(request: Request, name: str, who: Viewer, days: Days = 7
                         ) -> dict[str, Any]:
        ws, rate = state_of(request).workspace, rate_of(request)
        check_name(name)  # a bad name is told so, never echoed back as a deployment
        deployed = [row["name"] for row in deployment_records.list_deployments(ws)]
        if name not in deployed and name not in deployments_with_usage(ws):
            raise DeploymentNotFound(name, deployed)
        since = first_day(days)
        rows = usage_by_day(ws, since=since, deployment=name)
        return {"deployment": name, "since": since,
                "currency": None if rate is None else rate.currency,
                "days": [with_cost(row, rate) for row in rows], "total": _total(rows, rate)}

    return routes
