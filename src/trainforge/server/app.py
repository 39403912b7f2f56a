"""The platform's FastAPI app: the REST API under ``/api/v1``, and what later mounts beside it
(the web UI, the prediction router of deployed models).

    app = create_server_app(Workspace(), ServerConfig())

Every error a route raises is a ``TrainforgeError``, answered as ``{"detail": message}`` with
the error's ``http_status``: the same messages the CLI prints.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Request, Response

from trainforge import __version__
from trainforge.config import ServerConfig
from trainforge.errors import TrainforgeError
from trainforge.server.api import jobs
from trainforge.server.auth import TokenCache, require
from trainforge.store.access import Principal
from trainforge.workspace import Workspace

log = logging.getLogger(__name__)

API = "/api/v1"


def _error_answer(request: Request, error: Exception) -> Response:
    assert isinstance(error, TrainforgeError)  # registered for TrainforgeError only
    headers = {"WWW-Authenticate": "Bearer"} if error.http_status == 401 else None
    return Response(orjson.dumps({"detail": str(error)}), status_code=error.http_status,
                    media_type="application/json", headers=headers)


def _identity_router() -> APIRouter:
    router = APIRouter(tags=["access"])

    @router.get("/me", summary="Who the token or session belongs to, and its role")
    async def me(who: Annotated[Principal, Depends(require("viewer", "ask who it is"))]
                 ) -> dict[str, Any]:
        return {"name": who.name, "role": who.role, "via": who.via}

    return router


def create_server_app(workspace: Workspace, config: ServerConfig | None = None) -> FastAPI:
    """The platform app over ``workspace``; routers reach it through ``request.app.state``."""
    config = config or ServerConfig()
    app = FastAPI(title="trainforge server", version=__version__,
                  description="Datasets, training jobs, runs, models and deployments. Every "
                              "call needs `Authorization: Bearer <token>` "
                              "(`trainforge token create`).")
    app.state.workspace = workspace
    app.state.config = config
    app.state.tokens = TokenCache(workspace)
    app.add_exception_handler(TrainforgeError, _error_answer)
    app.include_router(_identity_router(), prefix=API)
    app.include_router(jobs.router(), prefix=API)
    return app
