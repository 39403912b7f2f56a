"""``/api/v1/deployments``: put a registered model version behind
``/v1/models/{name}/predict`` on this server, without restarting it; list; undeploy."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, model_validator

from trainforge.monitoring.prediction_log import LogPolicy
from trainforge.server.api.bodies import BoundedBodyRoute
from trainforge.server.api.statuses import SIGNED_IN, documented
from trainforge.server.auth import require, state_of
from trainforge.server.deployments import Deployments
from trainforge.store.access import Principal

Viewer = Annotated[Principal, Depends(require("viewer", "list deployments"))]
Editor = Annotated[Principal, Depends(require("editor", "deploy models"))]


Column = Annotated[str, Field(min_length=1, max_length=200)]
MAX_LOG_COLUMNS = 1_000  # more than any served model's inputs


class LogBody(BaseModel, extra="forbid"):
    """What of a deployment's predictions the prediction log keeps."""

    mode: Literal["all", "sample", "none"] = Field(
        default="all", description="every request, a random share of them, or none")
    rate: float = Field(default=1.0, gt=0.0, le=1.0,
                        description="the share of requests logged when mode is sample")
    exclude: list[Column] = Field(default_factory=list, max_length=MAX_LOG_COLUMNS,
                                  description="input columns never written")
    hashed: list[Column] = Field(default_factory=list, max_length=MAX_LOG_COLUMNS,
                                 description="input columns written as a keyed hash (equal "
                                             "values stay equal; the value cannot be read)")

    @model_validator(mode="after")
    def _one_treatment_per_column(self) -> Self:
        if set(self.exclude) & set(self.hashed):
            raise ValueError("a column is both in exclude and in hashed; choose one")
        return self

    def policy(self) -> LogPolicy:
        return LogPolicy(self.mode, self.rate, tuple(self.exclude), tuple(self.hashed))


class DeployBody(BaseModel, extra="forbid"):
    model: str = Field(description="NAME, NAME:VERSION or NAME@ALIAS", max_length=200)
    name: str | None = Field(default=None, max_length=100,
                             description="the URL name (/v1/models/NAME/predict); the model's "
                                         "name when left out")
    log: LogBody | None = Field(default=None, description="what of its predictions is logged "
                                                          "(all of them when left out); a "
                                                          "column the model lacks is a 422")


class LogPolicyOut(BaseModel):
    mode: Literal["all", "sample", "none"]
    rate: float
    exclude: list[str]
    hashed: list[str]


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
    log: LogPolicyOut | None = None  # what of its predictions is logged
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
        return deployments_of(request).deploy(
            body.model, name=body.name, deployed_by=who.name,
            log_policy=None if body.log is None else body.log.policy())

    @routes.get("", summary="What the prediction router serves", response_model=list[DeploymentOut])
    def listing(request: Request, who: Viewer) -> list[dict[str, Any]]:
        return deployments_of(request).listing()

    @routes.delete("/{name}", summary="Undeploy: /v1/models/NAME/predict answers 404 after",
                   response_model=DeploymentOut, responses=documented(404))
    def undeploy(request: Request, name: str, who: Editor) -> dict[str, Any]:
        return deployments_of(request).undeploy(name)

    return routes
