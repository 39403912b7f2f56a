"""``/api/v1/models/{name}/versions/{version}/card``: a model version's card over HTTP.

``GET`` answers the card as JSON, or with ``?format=md`` as Markdown and ``?format=html`` as a
self-contained page (a viewer may read it); ``PATCH`` changes its written parts (intended use,
users, caveats, contact…), which takes an editor. The body is ``config.ModelCardEdit``, the
CLI's one definition: unknown fields and over-long texts are 422s naming the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from trainforge.config import MAX_NAME_CHARS, ModelCardEdit
from trainforge.jobs.model_cards import edit_model_card, model_card, render_card
from trainforge.server.api.bodies import BoundedBodyRoute
from trainforge.server.api.models import version_ref
from trainforge.server.api.statuses import SIGNED_IN, documented
from trainforge.server.auth import require, state_of
from trainforge.server.shown_paths import without_paths
from trainforge.store.access import Principal

Viewer = Annotated[Principal, Depends(require("viewer", "read model cards"))]
Editor = Annotated[Principal, Depends(require("editor", "edit model cards"))]
ModelName = Annotated[str, Path(max_length=100)]
Version = Annotated[str, Path(max_length=MAX_NAME_CHARS,
                              description="a number, `latest` or an alias")]
Format = Annotated[Literal["json", "md", "html"], Query(
    alias="format", description="json (default), md (Markdown) or html (a page)")]
# the card's HTML is trainforge's own, with no scripts; the policy keeps it that way
_HTML_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                 "X-Content-Type-Options": "nosniff"}
_MEDIA = {"md": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8"}
_TEXT = {"schema": {"type": "string"}}


class WrittenOut(BaseModel):
    text: str
    written_by: str | None
    written_at: datetime
    version: int = Field(description="the version it was written for (an earlier one when "
                                     "this version inherits it)")


class ModelCardOut(BaseModel):
    format_version: int
    model: dict[str, Any]
    task: dict[str, Any]
    algorithms: list[dict[str, Any]]
    data: dict[str, Any]
    metrics: dict[str, dict[str, float]]
    fairness: dict[str, Any] | None
    explanations: dict[str, Any] | None
    limits: dict[str, Any] | None
    label_issues: dict[str, Any] | None
    personal_data: dict[str, Any] | None
    lineage: dict[str, Any]
    written: dict[str, WrittenOut | None] = Field(
        description="the parts only a person knows, field → its text (None: not written yet)")


def router() -> APIRouter:
    routes = APIRouter(prefix="/models", tags=["models"], route_class=BoundedBodyRoute,
                       responses=SIGNED_IN)
    path = "/{name}/versions/{version}/card"

    # sync routes: the package's files and the store are read in the thread pool
    @routes.get(path, summary="A version's model card (JSON, `?format=md` or `?format=html`)",
                response_model=ModelCardOut,
                responses={**documented(404),
                           200: {"content": {media: _TEXT for media in _MEDIA.values()}}})
    def read_card(request: Request, name: ModelName, version: Version, who: Viewer,
                  card_format: Format = "json") -> Response:
        workspace = state_of(request).workspace
        card = without_paths(model_card(workspace, version_ref(name, version)), workspace)
        if card_format == "json":
            return JSONResponse(card)
        return Response(render_card(card, card_format), media_type=_MEDIA[card_format],
                        headers=_HTML_HEADERS if card_format == "html" else None)

    @routes.patch(path, summary="Change the written parts of a version's model card (editor)",
                  response_model=ModelCardOut, responses=documented(404))
    def edit_card(request: Request, name: ModelName, version: Version, body: ModelCardEdit,
                  who: Editor) -> dict[str, Any]:
        workspace = state_of(request).workspace
        return without_paths(edit_model_card(workspace, version_ref(name, version), body,
                                             written_by=who.name), workspace)

    return routes
