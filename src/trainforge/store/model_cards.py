"""The written parts of model cards: what a person says about a model version that its package
cannot know (intended use, users, caveats, contact), with who wrote it and when.

A change is a new row, never an overwrite: the latest row of a field is its current text, and
the rows before it are its history. A version with no text of its own for a field shows the
text last written for an earlier version of the same model (a retrained version keeps its
intended use), marked with the version it came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa
from typing_extensions import TypedDict

from trainforge.store.clock import as_utc, utc_now
from trainforge.store.handle import StoreHandle
from trainforge.store.tables import model_card_notes


class CardNote(TypedDict):
    """The current text of one written field of a version's card."""

    text: str
    written_by: str | None
    written_at: datetime
    version: int  # the version it was written for (an earlier one when inherited)


def write_notes(ws: StoreHandle, name: str, version: int, changes: Mapping[str, str], *,
                written_by: str | None) -> None:
    """Record ``changes`` (field → text; "" clears the field) for ``name:version``, all in one
    transaction."""
    now = utc_now()
    rows = [{"name": name, "version": version, "field": field, "text": text,
             "written_by": written_by, "written_at": now} for field, text in changes.items()]
    if rows:
        with ws.engine.begin() as connection:
            connection.execute(sa.insert(model_card_notes), rows)


def current_notes(ws: StoreHandle, name: str, version: int) -> dict[str, CardNote]:
    """Field → its current text for ``name:version``: its own latest, else the latest written
    for an earlier version. A cleared field is left out."""
    query = (sa.select(model_card_notes)
             .where(model_card_notes.c.name == name, model_card_notes.c.version <= version)
             .order_by(model_card_notes.c.version, model_card_notes.c.id))
    with ws.engine.connect() as connection:
        rows = connection.execute(query).all()
    current: dict[str, CardNote] = {}
    for row in rows:  # in (version, id) order: the last row of a field wins
        current[row.field] = CardNote(text=row.text, written_by=row.written_by,
                                      written_at=as_utc(row.written_at), version=row.version)
    return {field: note for field, note in current.items() if note["text"]}


def forget_notes(connection: sa.Connection, name: str, versions: list[int]) -> None:
    """Remove the notes of deleted versions, in the deleting transaction: a later version of a
    re-created model must not inherit them."""
    connection.execute(sa.delete(model_card_notes).where(
        model_card_notes.c.name == name, model_card_notes.c.version.in_(versions)))
