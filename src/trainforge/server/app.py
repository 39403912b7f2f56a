"""The platform's FastAPI app: the REST API under ``/api/v1``, the prediction router of the
deployed models and the web UI.

    app = create_server_app(Workspace(), ServerConfig())

Every error a route raises is a ``TrainforgeError``, answered as ``{"detail": message}`` with
the error's ``http_status``: the same messages the CLI prints.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Protocol

import anyio.to_thread
import orjson
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.routing import Route

from trainforge.config import ServerConfig
from trainforge.errors import TrainforgeError
from trainforge.labeling.quick_models import QuickModels
from trainforge.monitoring.gauges import DriftGauges
from trainforge.monitoring.prediction_log import PredictionLog
from trainforge.server.api import (
    datasets,
    federations,
    feedback,
    health,
    jobs,
    labeling,
    model_cards,
    models,
    monitoring,
    retrain,
    runs,
    tokens,
    update,
    usage,
)
from trainforge.server.api import deployments as deployments_api
from trainforge.server.api.bodies import BoundedBodyRoute
from trainforge.server.api.statuses import SIGNED_IN
from trainforge.server.auth import TokenCache, require
from trainforge.server.deployments import (
    PREDICT_ROUTE,
    Deployments,
    PredictionRouter,
    document_predictions,
)
from trainforge.server.job_resources import ClusterTotals
from trainforge.server.login_limits import LoginThrottle
from trainforge.server.policy_checker import PolicyChecker
from trainforge.serving.app import without_telemetry
from trainforge.serving.docs import serve_docs
from trainforge.serving.metrics import CONTENT_TYPE
from trainforge.serving.openapi import METRICS_RESPONSES
from trainforge.serving.problems import invalid_request_answer
from trainforge.serving.usage import UsageFlusher
from trainforge.store.access import Principal
from trainforge.version import __version__
from trainforge.workspace import Workspace


class JobRunners(Protocol):
    """What runs the queue's jobs: the local workers' ``Supervisor`` or the Ray backend's
    ``RayDispatcher``; ``/ready`` asks whether it is alive."""

    def alive(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


log = logging.getLogger(__name__)

API = "/api/v1"


def _error_answer(request: Request, error: Exception) -> Response:
    assert isinstance(error, TrainforgeError)  # registered for TrainforgeError only
    headers = {"WWW-Authenticate": "Bearer"} if error.http_status == 401 else None
    return Response(orjson.dumps({"detail": str(error)}), status_code=error.http_status,
                    media_type="application/json", headers=headers)


def _identity_router() -> APIRouter:
    router = APIRouter(tags=["access"], route_class=BoundedBodyRoute, responses=SIGNED_IN)

    @router.get("/me", summary="Who the token or session belongs to, and its role")
    async def me(who: Annotated[Principal, Depends(require("viewer", "ask who it is"))]
                 ) -> dict[str, Any]:
        return {"name": who.name, "role": who.role, "via": who.via}

    return router


@asynccontextmanager
async def _following_deployments(app: FastAPI) -> AsyncIterator[None]:
    """While the server runs, its deployments follow the store's (other processes deploy),
    what serving them costs is written to the store, its prediction log writes, its drift
    gauges refresh, its retraining policies are checked and labeling projects' quick models
    refit; at shutdown what the log has
    queued is written."""
    deployments: Deployments = app.state.deployments
    usage = UsageFlusher(app.state.workspace, deployments.router.metrics,
                         served=lambda: {n: m.ref for n, m in deployments.router.served.items()})
    checker = PolicyChecker(app.state.workspace, every_s=app.state.config.policy_check_s)
    app.state.prediction_log.start()
    deployments.follow()
    usage.start()
    app.state.drift_gauges.start()
    checker.start()
    app.state.quick_models.start()
    try:
        yield
    finally:
        app.state.quick_models.stop()
        checker.stop()
        app.state.drift_gauges.stop()
        deployments.stop_following()
        usage.stop()
        await anyio.to_thread.run_sync(app.state.prediction_log.close)


def create_server_app(workspace: Workspace, config: ServerConfig | None = None, *,
                      supervisor: JobRunners | None = None,
                      capacity: Callable[[], ClusterTotals] | None = None) -> FastAPI:
    """The platform app over ``workspace``; routers reach it through ``request.app.state``.
    ``supervisor``: the job workers started with it, which ``/ready`` checks; ``capacity``:
    what the job backend's cluster has in all, which a job's resources must fit (None: the
    local workers, which take any job)."""
    config = config or ServerConfig()
    app = FastAPI(title="trainforge server", version=__version__,
                  description="Datasets, training jobs, runs, models and deployments. Every "
                              "call needs `Authorization: Bearer <token>` "
                              "(`trainforge token create`), except `/health` and `/ready`.",
                  docs_url=None, redoc_url=None,  # serve_docs: Swagger UI without a CDN
                  lifespan=_following_deployments,
                  **without_telemetry())  # ~30 µs a request the prediction router can keep
    app.state.workspace = workspace
    app.state.config = config
    app.state.tokens = TokenCache(workspace)
    app.state.logins = LoginThrottle()
    app.state.supervisor = supervisor
    app.state.capacity = capacity
    app.add_exception_handler(TrainforgeError, _error_answer)
    app.add_exception_handler(RequestValidationError, invalid_request_answer)
    for router, prefix in _api_routers():
        app.include_router(router, prefix=prefix)
    app.state.quick_models = QuickModels(workspace)  # refits labeling projects' quick models
    app.state.drift_gauges = DriftGauges(store=workspace, registry=workspace.registry,
                                         log_root=workspace.prediction_log)
    _mount_predictions(app, workspace, config)
    _add_web_ui(app)
    serve_docs(app)
    return app


@functools.cache
def _api_routers() -> tuple[tuple[APIRouter, str], ...]:
    """The REST API's routers and their prefixes, built once per process: a route reads the
    workspace, the tokens and the deployments from ``request.app.state``, never from the
    router, so every app can include the same ones (as it does the web UI's). Building them
    is most of building an app (~0.2 s of CPU: FastAPI makes a pydantic adapter per
    parameter and response), which the tests pay once per app they make."""
    return ((health.router(), ""), (_identity_router(), API), (datasets.router(), API),
            (jobs.router(), API), (runs.router(), API), (models.router(), API),
            (model_cards.router(), API), (tokens.router(), API),
            (deployments_api.router(), API), (retrain.router(), API), (update.router(), API),
            (feedback.router(), ""), (usage.router(), API), (monitoring.router(), API),
            (labeling.router(), API), (federations.router(), API))


def _mount_predictions(app: FastAPI, workspace: Workspace, config: ServerConfig) -> None:
    """The deployed models' prediction router, first in the route list (the hot path), and
    the deployments recorded in the store loaded."""
    app.state.prediction_log = PredictionLog(workspace.prediction_log)  # one per process
    router = PredictionRouter(max_records=config.max_records, log=app.state.prediction_log)
    app.router.routes.insert(0, Route(PREDICT_ROUTE, router, methods=["POST"]))
    app.state.deployments = Deployments(workspace, router)
    app.state.deployments.sync()
    document_predictions(app)

    # a viewer token, as for the deployments list: the names served are not public
    @app.get("/metrics", tags=["operations"], response_class=Response,
             summary="Prometheus metrics of the deployed models, the prediction log and "
                     "each deployment's drift",
             responses={**SIGNED_IN, **METRICS_RESPONSES})
    async def prometheus_metrics(
            who: Annotated[Principal, Depends(require("viewer", "read metrics"))]) -> Response:
        served = router.metrics.render(log=router.log.stats if router.log else None,
                                       shadows=router.shadows.stats if router.shadows else None)
        # the drift gauges as their thread last computed them: a scrape computes nothing
        drift = "\n".join(app.state.drift_gauges.lines())
        return Response(served + (drift + "\n" if drift else ""), media_type=CONTENT_TYPE)


def _add_web_ui(app: FastAPI) -> None:
    """The login pages, the read pages and the vendored static files."""
    from pathlib import Path

    from fastapi.staticfiles import StaticFiles

    from trainforge.server.ui import (
        actions,
        feedback_form,
        login,
        model_card,
        pages,
        retrain_form,
        usage,
    )
    from trainforge.server.ui import federations as federations_page
    from trainforge.server.ui import labeling as labeling_pages
    from trainforge.server.ui import monitoring as monitoring_page

    app.include_router(login.router)
    app.include_router(pages.router)
    app.include_router(usage.router)
    app.include_router(monitoring_page.router)
    app.include_router(actions.router)
    app.include_router(feedback_form.router)
    app.include_router(retrain_form.router)
    app.include_router(model_card.router)
    app.include_router(labeling_pages.router)
    app.include_router(federations_page.router)
    static = Path(__file__).parent / "static"
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:  # browsers ask for it whatever the page links
        return Response((static / "favicon.svg").read_bytes(), media_type="image/svg+xml")
