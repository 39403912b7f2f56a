"""A model version's card, read and edited: what the CLI (`trainforge models card`), the REST
API (``/api/v1/models/{name}/versions/{version}/card``) and the model page all call.

The automatic part comes from the package (``model_card.json``, checked against its hash; a
package registered before cards existed has it built from what it holds), the written part
from the store.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from trainforge.config import ModelCardEdit
from trainforge.errors import EmptyCardEdit
from trainforge.evaluation.model_card import CARD_FILE, WRITTEN, build_card, complete_card
from trainforge.evaluation.model_card_render import card_html, card_markdown
from trainforge.store.model_cards import current_notes, write_notes
from trainforge.workspace import Workspace

CardFormat = Literal["json", "md", "html"]


def model_card(workspace: Workspace, ref: str) -> dict[str, Any]:
    """The card of the version ``ref`` (NAME, NAME:VERSION or NAME@ALIAS) points at, written
    part included."""
    registry = workspace.registry
    name, version = registry.resolve(ref)
    exact = f"{name}:{version}"
    stored = registry.package_file(exact, CARD_FILE)
    if stored is not None:
        card = json.loads(stored)
    else:  # registered before model cards: built now from the same files
        card = build_card(registry.show(exact),
                          lambda file_name: registry.package_file(exact, file_name))
    return complete_card(card, current_notes(workspace, name, version))


def edit_model_card(workspace: Workspace, ref: str, edit: ModelCardEdit, *,
                    written_by: str | None) -> dict[str, Any]:
    """Write the fields ``edit`` names into the card of ``ref``'s version, as ``written_by``;
    returns the card as it reads now."""
    changes = edit.changes()
    if not changes:
        raise EmptyCardEdit(ref, list(WRITTEN))
    name, version = workspace.registry.resolve(ref)
    write_notes(workspace, name, version, changes, written_by=written_by)
    return model_card(workspace, f"{name}:{version}")


def render_card(card: dict[str, Any], card_format: CardFormat) -> str:
    """The card as text: JSON, Markdown or a self-contained HTML page."""
    if card_format == "md":
        return card_markdown(card)
    if card_format == "html":
        return card_html(card)
    return json.dumps(card, indent=2, ensure_ascii=False) + "\n"
