"""``GET /api/v1/deployments/{name}/monitoring``: a deployment's drift over windows of its
logged predictions, against its model's reference (what ``trainforge monitor`` prints); and
``GET /metrics``, the drift gauges for Prometheus."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from trainforge.monitoring.drift import Window
from trainforge.monitoring.monitor import monitor_deployment, parse_since
from trainforge.server.api.bodies import BoundedBodyRoute
from trainforge.server.api.statuses import SIGNED_IN, documented
from trainforge.server.auth import require
from trainforge.store.access import Principal
from trainforge.workspace import Workspace

Viewer = Annotated[Principal, Depends(require("viewer", "see deployments' monitoring"))]


def router() -> APIRouter:
    routes = APIRouter(prefix="/deployments", tags=["monitoring"],
                       route_class=BoundedBodyRoute, responses=SIGNED_IN)

    # a sync route: reading the log and the tests run in the thread pool, off the event loop
    @routes.get("/{name}/monitoring", summary="Drift, violations and prediction drift per "
                "window of the deployment's logged predictions", responses=documented(404))
    def monitoring(request: Request, name: str, who: Viewer,
                   window: Annotated[str, Query(max_length=20, description="rows per window "
                                                "(1000) or a span (6h, 1d)")] = "1000",
                   since: Annotated[str | None, Query(max_length=40, description="a span back "
                                                      "(7d) or an ISO date")] = None
                   ) -> dict[str, Any]:
        workspace: Workspace = request.app.state.workspace
        result = monitor_deployment(name, store=workspace, registry=workspace.registry,
                                    log_root=workspace.prediction_log,
                                    window=Window.parse(window),
                                    since=parse_since(since) if since is not None else None)
        return result.to_dict()

    return routes
