"""``/api/v1/deployments``: put a registered model version behind
``/v1/models/{name}/predict`` on this server, without restarting it; list; undeploy."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from trainforge.server.api.bodies import BoundedBodyRoute
from trainforge.server.api.statuses import SIGNED_IN, documented
from trainforge.server.auth import require, state_of
from trainforge.server.deployments import Deployments
from trainforge.store.access import Principal

Viewer = Annotated[Principal, Depends(require("viewer", "list deployments"))]
Editor = Annotated[Principal, Depends(require("editor", "deploy models"))]


class DeployBody(BaseModel, extra="forbid"):
    model: str = Field(description="NAME, NAME:VERSION or NAME@ALIAS", max_length=200)
    name: str | None = Field(default=None, max_length=100,
                             description="the URL name (/v1/models/NAME/predict); the model's "
                                         "name when left out")


class DeploymentOut(BaseModel):
    name: str
    model: str | None = None
    version: int | None = None
    ref: str | None = None
    requested: str | None = None
    deployed_by: str | None = None
    created_at: datetime | None = None
    url: str | None = None
    live: bool = False  # answering now
    problem: str | None = None  # why it could not be loaded when the server started


def deployments_of(request: Request) -> Deployments:
    found: Deployments = state_of(request).deployments
    return found


def router() -> APIRouter:
    routes = APIRouter(prefix="/deployments", tags=["deployments"],
                       route_class=BoundedBodyRoute, responses=SIGNED_IN)

    # sync routes: loading a package runs in the thread pool, never on the event loop
    @routes.post("", summary="Deploy a model version (replaces what the name served)",
                 response_model=DeploymentOut, status_code=201, responses=documented(404))
    def deploy(request: Request, body: DeployBody, who: Editor) -> dict[str, Any]:
        return deployments_of(request).deploy(body.model, name=body.name, deployed_by=who.name)

    @routes.get("", summary="What the prediction router serves", response_model=list[DeploymentOut])
    def listing(request: Request, who: Viewer) -> list[dict[str, Any]]:
        return deployments_of(request).listing()

    @routes.delete("/{name}", summary="Undeploy: /v1/models/NAME/predict answers 404 after",
                   response_model=DeploymentOut, responses=documented(404))
    def undeploy(request: Request, name: str, who: Editor) -> dict[str, Any]:
        return deployments_of(request).undeploy(name)

    return routes
