"""``/api/v1/runs``: what each training attempt did (the store's runs, as ``trainforge runs``
shows them), its metric series, and several runs side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from trainforge.errors import InvalidRequest
from trainforge.server.api.bodies import BoundedBodyRoute
from trainforge.server.api.statuses import MAX_POSITION, SIGNED_IN, documented
from trainforge.server.api.usage import priced, rate_of
from trainforge.server.auth import require, state_of
from trainforge.server.shown_paths import without_paths
from trainforge.store.access import Principal
from trainforge.store.runs import MetricPoint, get_run, list_runs, resolve_run_id

MAX_COMPARED = 10
Viewer = Annotated[Principal, Depends(require("viewer", "read runs"))]


class RunPage(BaseModel):
    # newest first, without their metric series; each with its cpu_s, peak_memory_mb, and
    # cost and currency (None without a rate: --cost-per-cpu-hour)
    runs: list[dict[str, Any]]
    limit: int
    offset: int
    next_offset: int | None  # None on the last page


class RunComparison(BaseModel):
    runs: list[str]  # the ids, in the order asked
    status: list[str]
    models: list[str | None]
    config_differences: dict[str, list[Any]]  # setting → its value in each run
    config_shared: dict[str, Any]  # settings every run had the same
    metrics: dict[str, list[float | None]]  # final metric (dotted for split.metric) → values


def flat(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"test": {"f1": 0.8}}`` → ``{"test.f1": 0.8}``: nested settings and metrics as one
    level, so runs line up key by key."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping) and value:
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def compare(found: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    configs = [flat(run.get("config") or {}) for run in found]
    metrics = [flat(run.get("metrics") or {}) for run in found]
    settings = sorted({key for config in configs for key in config})
    differing = {key: [c.get(key) for c in configs] for key in settings
                 if any(c.get(key) != configs[0].get(key) for c in configs)}
    numbers = sorted({k for m in metrics for k, v in m.items()
                      if isinstance(v, (int, float)) and not isinstance(v, bool)})
    return {"runs": [run["id"] for run in found], "status": [run["status"] for run in found],
            "models": [f"{r['model_name']}:{r['model_version']}" if r.get("model_name") else None
                       for r in found],
            "config_differences": differing,
            "config_shared": {k: configs[0][k] for k in settings if k not in differing},
            "metrics": {k: [_number(m.get(k)) for m in metrics] for k in numbers}}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def router() -> APIRouter:
    routes = APIRouter(prefix="/runs", tags=["runs"], route_class=BoundedBodyRoute,
                       responses=SIGNED_IN)
    unknown = documented(404)

    @routes.get("", summary="Runs, newest first, a page at a time", response_model=RunPage)
    def list_page(request: Request, who: Viewer, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  offset: Annotated[int, Query(ge=0, le=MAX_POSITION)] = 0) -> dict[str, Any]:
        ws = state_of(request).workspace
        page = list_runs(ws, limit + 1, offset=offset)
        rate = rate_of(request)
        return {"runs": [priced(run, rate) for run in without_paths(page[:limit], ws)],
                "limit": limit, "offset": offset,
                "next_offset": offset + limit if len(page) > limit else None}

    @routes.get("/compare", summary="Runs side by side: settings that differ, final metrics",
                response_model=RunComparison, responses=unknown)
    def side_by_side(request: Request, who: Viewer,
                     ids: Annotated[str, Query(description="run ids (or their first "
                                                           "characters), comma-separated")]
                     ) -> dict[str, Any]:
        wanted = [i.strip() for i in ids.split(",") if i.strip()]
        if not 2 <= len(wanted) <= MAX_COMPARED:
            raise InvalidRequest(f"compare takes 2 to {MAX_COMPARED} run ids, comma-separated "
                                 f"(got {len(wanted)}): ?ids=RUN1,RUN2")
        ws = state_of(request).workspace
        return without_paths(compare([get_run(ws, resolve_run_id(ws, i)) for i in wanted]), ws)

    @routes.get("/{run_id}", summary="One run: config, status, final metrics, timings, "
                "resources and the model it made (the id's first characters do)",
                responses=unknown)
    def show(request: Request, run_id: str, who: Viewer) -> dict[str, Any]:
        ws = state_of(request).workspace
        run = get_run(ws, resolve_run_id(ws, run_id))
        return priced(without_paths({k: v for k, v in run.items() if k != "series"}, ws),
                      rate_of(request))

    @routes.get("/{run_id}/metrics", summary="Every metric series of a run: key → "
                "[{step, value, timestamp}] in step order", responses=unknown)
    def series(request: Request, run_id: str, who: Viewer) -> dict[str, list[MetricPoint]]:
        ws = state_of(request).workspace
        found: dict[str, list[MetricPoint]] = get_run(ws, resolve_run_id(ws, run_id))["series"]
        return found

    return routes
