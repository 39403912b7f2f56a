"""A model's retraining policy over HTTP: ``GET``/``PUT /api/v1/models/{name}/retrain-policy``
(its triggers, what it trains on, its limits, and its recent decisions) and ``POST
/api/v1/models/{name}/retrain`` (retrain now: a queued ``train`` job whose version becomes the
``challenger``). Reading takes a viewer, changing or retraining an editor. The body is
``config.RetrainPolicy``, the CLI's and the stored JSON's one definition."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel

from trainforge.config import RetrainPolicy
from trainforge.errors import NoRetrainPolicy, RetrainRefused
from trainforge.jobs.retrain import check_model, set_policy
from trainforge.server.api.bodies import BoundedBodyRoute
from trainforge.server.api.statuses import SIGNED_IN, documented
from trainforge.server.auth import require, state_of
from trainforge.store import retrain as retrain_store
from trainforge.store.access import Principal

Viewer = Annotated[Principal, Depends(require("viewer", "read retraining policies"))]
Editor = Annotated[Principal, Depends(require("editor", "change retraining policies or "
                                                        "retrain models"))]
ModelName = Annotated[str, Path(max_length=100)]


class RetrainEventOut(BaseModel):
    id: int
    at: datetime
    trigger: str
    reason: str
    outcome: str
    job_id: str | None
    run_id: str | None
    dataset_id: int | None
    model_version: int | None


class PolicyOut(BaseModel):
    model: str
    policy: dict[str, Any]
    updated_by: str | None
    updated_at: datetime
    events: list[RetrainEventOut]  # the latest decisions, newest first


class RetrainOut(BaseModel):
    event: RetrainEventOut


def router() -> APIRouter:
    routes = APIRouter(tags=["models"], route_class=BoundedBodyRoute, responses=SIGNED_IN)

    # sync routes: the store (and, for a retrain, the log and the new dataset) in the pool
    @routes.get("/models/{name}/retrain-policy", response_model=PolicyOut,
                summary="A model's retraining policy and its latest decisions",
                responses=documented(404))
    def show_policy(request: Request, name: ModelName, who: Viewer) -> dict[str, Any]:
        workspace = state_of(request).workspace
        workspace.registry.versions(name)  # ModelNotFound (404) before "no policy"
        record = retrain_store.get_policy(workspace, name)
        if record is None:
            raise NoRetrainPolicy(name)
        return {"model": name, "policy": record["policy"], "updated_by": record["updated_by"],
                "updated_at": record["updated_at"],
                "events": retrain_store.list_events(workspace, name)}

    @routes.put("/models/{name}/retrain-policy", response_model=PolicyOut,
                summary="Set a model's retraining policy", responses=documented(404))
    def put_policy(request: Request, name: ModelName, body: RetrainPolicy,
                   who: Editor) -> dict[str, Any]:
        workspace = state_of(request).workspace
        record = set_policy(workspace, name, body, updated_by=who.name)
        return {"model": name, "policy": record["policy"], "updated_by": record["updated_by"],
                "updated_at": record["updated_at"],
                "events": retrain_store.list_events(workspace, name)}

    @routes.post("/models/{name}/retrain", response_model=RetrainOut, status_code=202,
                 summary="Retrain a model now on its feedback; the new version is its "
                         "challenger", responses=documented(404, 409))
    def retrain(request: Request, name: ModelName, who: Editor) -> dict[str, Any]:
        checked = check_model(state_of(request).workspace, name, start=True, queue=True,
                              asked_by=who.name)
        if checked.trigger is not None and checked.trigger.blocked is not None:
            raise RetrainRefused(f"model {name!r} was not retrained: "
                                 f"{checked.trigger.blocked}; see its events")
        return {"event": checked.event}

    return routes
