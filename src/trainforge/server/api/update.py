"""``POST /api/v1/models/{name}/update``: continue a model on its deployments' labelled
feedback (`trainforge update`). The update runs as a queued ``update`` job, checked in full
before it is queued (the model exists and has a member that can learn in place); its new
version becomes the model's ``challenger``. Takes an editor."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Request
from pydantic import BaseModel, Field

from trainforge.config import MAX_UPDATE_ROUNDS, UpdateConfig
from trainforge.server.api.bodies import BoundedBodyRoute
from trainforge.server.api.jobs import JobView, shown
from trainforge.server.api.statuses import SIGNED_IN, documented
from trainforge.server.auth import require, state_of
from trainforge.server.job_requests import UpdateJob, submit
from trainforge.store.access import Principal

Editor = Annotated[Principal, Depends(require("editor", "update models"))]
ModelName = Annotated[str, Path(max_length=100)]
_FIELDS = UpdateConfig.model_fields


class UpdateBody(BaseModel, frozen=True, extra="forbid"):
    """The options of `trainforge update`, less the model (the path names it)."""

    since: datetime | None = Field(default=None, description=_FIELDS["since"].description)
    rounds: int = Field(default=_FIELDS["rounds"].default, ge=1, le=MAX_UPDATE_ROUNDS,
                        description=_FIELDS["rounds"].description)
    method: Literal["continue", "windows"] = Field(default=_FIELDS["method"].default,
                                                   description=_FIELDS["method"].description)


def router() -> APIRouter:
    routes = APIRouter(tags=["models"], route_class=BoundedBodyRoute, responses=SIGNED_IN)

    # sync: the store and the model's manifest are read in the pool
    @routes.post("/models/{name}/update", response_model=JobView, status_code=202,
                 summary="Update a model on its labelled feedback; the new version is its "
                         "challenger", responses=documented(404, 409, 422))
    def update(request: Request, name: ModelName, who: Editor,
               body: Annotated[UpdateBody | None, Body()] = None) -> dict[str, Any]:
        options = (body or UpdateBody()).model_dump()
        job = UpdateJob(kind="update", model=name, **options)
        state = state_of(request)
        return shown(request, submit(state.workspace, job, who, capacity=state.capacity))

    return routes
