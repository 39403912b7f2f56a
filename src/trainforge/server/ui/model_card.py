"""The model page's card panel: the latest version's model card, and for editors a form for its
written parts (saved as the REST route saves them); and the card as a page of its own. The
panel loads on its own (``GET /ui/models/{name}/card``), so the model page pays nothing for
it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from trainforge.config import MAX_CARD_CONTACT, MAX_CARD_TEXT, ModelCardEdit
from trainforge.errors import ConfigError
from trainforge.evaluation.model_card import WRITTEN
from trainforge.evaluation.model_card_render import card_html
from trainforge.jobs.model_cards import edit_model_card, model_card
from trainforge.server.api.bodies import BoundedBodyRoute
from trainforge.server.shown_paths import without_paths
from trainforge.server.ui.actions import _act, _error, _go
from trainforge.server.ui.render import Viewer, page, signed_in_page
from trainforge.store.access import Principal
from trainforge.workspace import Workspace

router = APIRouter(include_in_schema=False, route_class=BoundedBodyRoute)
_LIMITS = {field: MAX_CARD_CONTACT if field == "contact" else MAX_CARD_TEXT
           for field in WRITTEN}
# the card's own page: trainforge's HTML with inline styles and no scripts
_CARD_PAGE_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src "
                                                 "'unsafe-inline'; frame-ancestors 'none'",
                      "X-Content-Type-Options": "nosniff"}


@router.get("/ui/models/{name}/card")
async def card_panel(request: Request, name: str) -> Response:
    def show(viewer: Viewer, card: dict[str, Any]) -> Response:
        current = {field: note["text"] for field, note in card["written"].items() if note}
        # Markup: the fragment comes escaped from its own (autoescaping) template
        fragment = Markup(card_html(card, standalone=False))
        return page(request, "model_card_panel.html.j2", viewer, name=name,
                    card_version=card["model"]["version"], fields=WRITTEN, limits=_LIMITS,
                    current=current, card=fragment)

    return await signed_in_page(
        request, lambda _: _shown_card(request.app.state.workspace, name), show,
        failed=lambda error: _error(str(error)))


@router.get("/models/{name}/{version}/card")
async def card_page(request: Request, name: str, version: int) -> Response:
    return await signed_in_page(
        request, lambda _: _shown_card(request.app.state.workspace, f"{name}:{version}"),
        lambda _, card: HTMLResponse(card_html(card), headers=_CARD_PAGE_HEADERS))


def _edit(form: Any, current: dict[str, str]) -> ModelCardEdit:
    """The fields the form changed, as an edit; a refusal names the field."""
    sent = {field: str(form.get(field, "")) for field in WRITTEN if field in form}
    changed = {field: text for field, text in sent.items()
               if text.strip() != current.get(field, "")}
    try:
        return ModelCardEdit(**changed)
    except ValidationError as error:
        raise ConfigError("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                    for e in error.errors())) from None


@router.post("/ui/models/{name}/{version}/card")
async def save_card(request: Request, name: str, version: int) -> Response:
    async def work(who: Principal) -> Response:
        workspace, ref = request.app.state.workspace, f"{name}:{version}"
        card = await run_in_threadpool(model_card, workspace, ref)
        edit = _edit(await request.form(), {field: note["text"] for field, note
                                            in card["written"].items() if note})
        await run_in_threadpool(lambda: edit_model_card(workspace, ref, edit,
                                                        written_by=who.name))
        return _go(f"/models/{name}")

    return await _act(request, "editor", "edit model cards", work)


def _shown_card(workspace: Workspace, ref: str) -> dict[str, Any]:
    """The card as the server shows it: the dataset named, not the server's path to it."""
    return without_paths(model_card(workspace, ref), workspace)
