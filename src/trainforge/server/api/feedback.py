"""``POST /v1/models/{name}/feedback``: the true outcomes of a deployment's logged
predictions, beside its predict route. An editor token at least: labels change what models
learn. The body is bounded before it is parsed and validated whole before anything is
written; the answer counts the outcomes and names the records not plainly recorded by
position, never by value (``monitoring.feedback``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field, StrictBool, StrictInt, StrictStr

from trainforge.monitoring.feedback import MAX_LABEL_CHARS, MAX_LABELS
from trainforge.monitoring.feedback_doors import submit_feedback
from trainforge.server.api.bodies import BoundedBodyRoute, Number
from trainforge.server.api.statuses import SIGNED_IN, documented
from trainforge.server.auth import require, state_of
from trainforge.store.access import Principal

# 10,000 labels of a request id and a short class each fit with room to spare
FEEDBACK_BODY_BYTES = 4 << 20
Editor = Annotated[Principal, Depends(require("editor", "send feedback labels"))]
Value = Annotated[StrictStr, Field(max_length=MAX_LABEL_CHARS)] | StrictBool | StrictInt | Number
ColumnName = Annotated[str, Field(min_length=1, max_length=100)]


class FeedbackBody(BaseModel, extra="forbid"):
    records: list[dict[ColumnName, Value | None]] = Field(
        description="one object per label: the id column (request_id by default: the "
                    "prediction's request id, with an optional row), and label",
        json_schema_extra={"maxItems": MAX_LABELS})
    id_column: ColumnName = Field(
        default="request_id", description="request_id, or an input column the deployment "
                                          "logs: each record then matches the logged row "
                                          "with that value")
    replace: bool = Field(default=False, description="replace a different label already "
                                                     "recorded (the old one is kept, marked)")


class RecordOut(BaseModel):
    position: int
    outcome: str
    late: bool


class FeedbackOut(BaseModel):
    counts: dict[str, int]
    late: int
    hints: list[str]
    records: list[RecordOut]


def router() -> APIRouter:
    routes = APIRouter(tags=["predict"], route_class=BoundedBodyRoute, responses=SIGNED_IN)

    # a sync route: reading the log and writing the store run in the thread pool
    @routes.post("/v1/models/{name}/feedback", response_model=FeedbackOut,
                 summary="Send the true outcomes of logged predictions",
                 responses=documented(404, 409, 413), max_body_size=FEEDBACK_BODY_BYTES)
    def feedback(request: Request, name: Annotated[str, Path(max_length=100)],
                 body: FeedbackBody, who: Editor) -> dict[str, Any]:
        workspace = state_of(request).workspace
        return submit_feedback(workspace, workspace.prediction_log, deployment=name,
                               records=body.records, id_column=body.id_column,
                               submitted_by=who.name, replace=body.replace).to_dict()

    return routes
