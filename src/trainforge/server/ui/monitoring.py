"""The UI's monitoring page of a deployment: the charts and the table of ``trainforge monitor
-o``, for the latest windows of its logged predictions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from trainforge.errors import TrainforgeError
from trainforge.monitoring.drift import Window
from trainforge.server.ui.render import missing_page, page, signed_in, to_login
from trainforge.workspace import Workspace

router = APIRouter(include_in_schema=False)


# a sync handler: reading the log, the tests and matplotlib run in the thread pool
@router.get("/deployments/{name}/monitoring")
def monitoring_page(request: Request, name: str, window: str = "1000") -> Response:
    from trainforge.monitoring.monitor import monitor_deployment
    from trainforge.monitoring.report import feature_rows, monitoring_plots

    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    workspace: Workspace = request.app.state.workspace
    try:
        result = monitor_deployment(name, store=workspace, registry=workspace.registry,
                                    log_root=workspace.prediction_log,
                                    window=Window.parse(window))
    except TrainforgeError as error:
        return missing_page(request, viewer, error)
    return page(request, "monitoring.html.j2", viewer, name=name, result=result,
                rows=feature_rows(result.latest), plots=monitoring_plots(result))
