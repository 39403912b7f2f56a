"""Which item an annotator labels next: an item waiting for its second label (under overlap),
then the quick model's order once it exists, else the source's order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trainforge.store import labeling as store
from trainforge.store.handle import StoreHandle
from trainforge.store.labeling import ProjectRecord

WHY = {"overlap": "needs another annotator's label", "active": "the quick model is least sure",
       "source": "next in the source's order"}


@dataclass(frozen=True)
class NextItem:
    position: int
    why: str  # a key of WHY


def next_item(ws: StoreHandle, project: ProjectRecord, *, annotator: str,
              ranked: Sequence[int] | None = None) -> NextItem | None:
    """The item ``annotator`` should label now, or None when nothing is left for them.
    ``ranked``: the quick model's order (positions, most useful first), when it has one."""
    position = store.needing_another_label(ws, project, annotator=annotator)
    if position is not None:
        return NextItem(position, "overlap")
    if ranked:
        position = store.first_open(ws, project, annotator=annotator, among=ranked)
        if position is not None:
            return NextItem(position, "active")
    position = store.first_open(ws, project, annotator=annotator)
    return None if position is None else NextItem(position, "source")
