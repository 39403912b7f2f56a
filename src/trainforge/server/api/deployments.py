"""``/api/v1/deployments``: put a registered model version behind
``/v1/models/{name}/predict`` on this server, without restarting it; list; undeploy; a
challenger in shadow, its comparison with the champion, promotion (by hand or by a stored
rule), rollback, and the history of every change."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, model_validator

from trainforge.monitoring.compare import MIN_LABELS, PromotionRule, compare_deployment
from trainforge.monitoring.prediction_log import LogPolicy
from trainforge.server.api.bodies import BoundedBodyRoute
from trainforge.server.api.statuses import SIGNED_IN, documented
from trainforge.server.auth import require, state_of
from trainforge.server.deployments import Deployments
from trainforge.store.access import Principal
from trainforge.workspace import Workspace

Viewer = Annotated[Principal, Depends(require("viewer", "list deployments"))]
Editor = Annotated[Principal, Depends(require("editor", "deploy models"))]


Column = Annotated[str, Field(min_length=1, max_length=200)]
MAX_LOG_COLUMNS = 1_000  # more than any served model's inputs
MAX_REASON = 1_000  # characters: a sentence or two, as a commit message


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
    shadow: str | None = Field(default=None, max_length=200,
                               description="a challenger (NAME:VERSION, NAME@ALIAS) answering "
                                           "a copy of the traffic, only logged; one taking "
                                           "other inputs is a 422 naming the columns")
    reason: str | None = Field(default=None, max_length=MAX_REASON,
                               description="why: kept in the deployment's history")


class ShadowBody(BaseModel, extra="forbid"):
    model: str | None = Field(description="the challenger (NAME:VERSION, NAME@ALIAS); null "
                                          "takes the shadow away", max_length=200)
    reason: str | None = Field(default=None, max_length=MAX_REASON)


class ChangeBody(BaseModel, extra="forbid"):
    reason: str | None = Field(default=None, max_length=MAX_REASON,
                               description="why: kept in the deployment's history")


class PromotionRuleBody(BaseModel, extra="forbid"):
    """When the shadow is promoted by itself: better by ``min_margin`` on ``min_labels``
    labelled requests, the bootstrap's 95% interval above zero."""

    min_margin: float = Field(default=0.0, ge=0.0, le=1e6)
    min_labels: int = Field(default=MIN_LABELS, ge=1, le=10_000_000)

    def rule(self) -> PromotionRule:
        return PromotionRule(min_margin=self.min_margin, min_labels=self.min_labels)


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
    shadow: str | None = None  # the challenger answering a copy of its traffic
    promotion_rule: dict[str, Any] | None = None  # when the shadow is promoted by itself


class EventOut(BaseModel):
    at: datetime
    action: str  # deploy, promote, rollback, undeploy, shadow_on, shadow_off
    model_name: str | None
    from_model: str | None
    from_version: int | None
    to_version: int | None
    by: str | None
    reason: str | None


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
            log_policy=None if body.log is None else body.log.policy(), shadow=body.shadow,
            reason=body.reason)

    @routes.get("", summary="What the prediction router serves", response_model=list[DeploymentOut])
    def listing(request: Request, who: Viewer) -> list[dict[str, Any]]:
        return deployments_of(request).listing()

    @routes.delete("/{name}", summary="Undeploy: /v1/models/NAME/predict answers 404 after",
                   response_model=DeploymentOut, responses=documented(404))
    def undeploy(request: Request, name: str, who: Editor) -> dict[str, Any]:
        return deployments_of(request).undeploy(name, by=who.name)

    @routes.put("/{name}/shadow", summary="Put a challenger in shadow (or take it away)",
                response_model=DeploymentOut, responses=documented(404))
    def shadow(request: Request, name: str, body: ShadowBody, who: Editor) -> dict[str, Any]:
        return deployments_of(request).set_shadow(name, body.model, by=who.name,
                                                  reason=body.reason)

    @routes.post("/{name}/promote", summary="The shadow becomes the champion",
                 response_model=DeploymentOut, responses=documented(404, 409))
    def promote(request: Request, name: str, body: ChangeBody, who: Editor) -> dict[str, Any]:
        return deployments_of(request).promote(name, by=who.name, reason=body.reason)

    @routes.post("/{name}/rollback", summary="Serve the previous version again, at once",
                 response_model=DeploymentOut, responses=documented(404, 409))
    def rollback(request: Request, name: str, body: ChangeBody, who: Editor) -> dict[str, Any]:
        return deployments_of(request).rollback(name, by=who.name, reason=body.reason)

    @routes.put("/{name}/promotion-rule", summary="Promote the shadow by itself when it is "
                "better by a margin, the test passing", response_model=DeploymentOut,
                responses=documented(404))
    def promotion_rule(request: Request, name: str, body: PromotionRuleBody,
                       who: Editor) -> dict[str, Any]:
        return deployments_of(request).set_promotion_rule(name, body.rule())

    @routes.delete("/{name}/promotion-rule", summary="Promote the shadow only by hand",
                   response_model=DeploymentOut, responses=documented(404))
    def no_promotion_rule(request: Request, name: str, who: Editor) -> dict[str, Any]:
        return deployments_of(request).set_promotion_rule(name, None)

    @routes.get("/{name}/history", summary="Every change of what the deployment serves: "
                "who, when, why (newest first)", response_model=list[EventOut],
                responses=documented(404))
    def history(request: Request, name: str, who: Viewer) -> list[Any]:
        return list(deployments_of(request).history(name))

    @routes.get("/{name}/comparison", summary="Champion and shadow on the same requests and "
                "on the labelled feedback, with a paired bootstrap", responses=documented(404))
    def comparison(request: Request, name: str, who: Viewer,
                   min_labels: Annotated[int | None, Query(ge=1, le=10_000_000)] = None
                   ) -> dict[str, Any]:
        workspace: Workspace = request.app.state.workspace
        return compare_deployment(name, store=workspace, registry=workspace.registry,
                                  log_root=workspace.prediction_log,
                                  min_labels=min_labels).to_dict()

    return routes
