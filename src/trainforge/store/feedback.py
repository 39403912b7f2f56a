"""The feedback labels: the true outcome sent back for a logged prediction.

A label is never overwritten: replacing one marks the old row ``replaced_at`` and adds a new
row, so the store keeps every label ever received and who sent it. The current label of a
prediction is its row without ``replaced_at``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from typing_extensions import TypedDict  # pydantic reads it on Python 3.11

from trainforge.json_value import JSONValue
from trainforge.store.clock import as_utc
from trainforge.store.handle import StoreHandle
from trainforge.store.tables import feedback

# SQLite allows 32,766 bound parameters; a lookup binds two per key
_KEYS_PER_QUERY = 5_000


class NewLabel(TypedDict):
    """A label to write: the prediction it is for, what answered it, who sent it."""

    deployment: str
    request_id: str
    row: int
    label: JSONValue
    model_name: str
    model_version: int
    predicted_at: datetime
    received_at: datetime
    submitted_by: str | None
    replaced_at: datetime | None  # set when a later record of the same batch replaces it


class FeedbackRecord(NewLabel):
    """One row of ``feedback``."""

    id: int


def _record(row: sa.Row[tuple[object, ...]]) -> FeedbackRecord:
    return FeedbackRecord(id=row.id, deployment=row.deployment, request_id=row.request_id,
                          row=row.row, label=row.label, model_name=row.model_name,
                          model_version=row.model_version,
                          predicted_at=as_utc(row.predicted_at),
                          received_at=as_utc(row.received_at), submitted_by=row.submitted_by,
                          replaced_at=as_utc(row.replaced_at))


def current_labels(connection: sa.Connection, deployment: str,
                   keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], FeedbackRecord]:
    """The current label of each ``(request_id, row)`` of ``deployment`` that has one, read
    in the caller's transaction (a batch checks and writes in one)."""
    wanted = sorted(set(keys))
    found: dict[tuple[str, int], FeedbackRecord] = {}
    for start in range(0, len(wanted), _KEYS_PER_QUERY):
        chunk = wanted[start:start + _KEYS_PER_QUERY]
        rows = connection.execute(sa.select(feedback).where(
            feedback.c.deployment == deployment, feedback.c.replaced_at.is_(None),
            sa.tuple_(feedback.c.request_id, feedback.c.row).in_(chunk))).all()
        found.update({(row.request_id, row.row): _record(row) for row in rows})
    return found


def write_labels(connection: sa.Connection, labels: Sequence[NewLabel], *,
                 replaced: Sequence[int], replaced_at: datetime) -> None:
    """Mark the rows ``replaced`` (ids) as replaced and add ``labels``, in the caller's
    transaction."""
    if replaced:
        connection.execute(sa.update(feedback).where(feedback.c.id.in_(replaced))
                           .values(replaced_at=replaced_at))
    if labels:
        connection.execute(sa.insert(feedback), list(labels))


def list_labels(ws: StoreHandle, deployment: str, *,
                with_replaced: bool = False) -> list[FeedbackRecord]:
    """The labels of ``deployment`` in the order received; only the current ones unless
    ``with_replaced``."""
    query = sa.select(feedback).where(feedback.c.deployment == deployment)
    if not with_replaced:
        query = query.where(feedback.c.replaced_at.is_(None))
    with ws.engine.connect() as connection:
        rows = connection.execute(query.order_by(feedback.c.id)).all()
    return [_record(row) for row in rows]
