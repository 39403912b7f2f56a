"""A label read from another tool's file, before it is checked against the project."""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_ANNOTATOR_CHARS = 100  # the store's column
MAX_NOTE_CHARS = 2_000


@dataclass(frozen=True)
class ImportedLabel:
    position: int  # the item, as numbered in the project (0 = first of the source)
    annotator: str | None  # None: the person importing
    label: str
    note: str | None = None


def annotator_name(value: object) -> str | None:
    """A name for whoever made a label, at most 100 characters; None when not given."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text[:MAX_ANNOTATOR_CHARS] or None
