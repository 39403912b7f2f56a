"""Items sent to a labeling project by ``trainforge train --label-issues review``: the row as
the model saw it, plus what the run found, shown to the annotator beside the item.

Label Studio users expect a row under review to show the label it was given and a
pre-annotation: the label a model suggests, with its score. The item's payload carries both
under ``REVIEW_KEY``, a key no table column is expected to have; everything that turns
payloads into features or files (the quick model, the exports) takes it out first, so the
suggestion never becomes a feature of what is trained on the labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainforge.json_value import JSONValue

REVIEW_KEY = "trainforge:review"


def review_payload(item: Mapping[str, JSONValue], *, given: str, likely: str,
                   likely_probability: float, row: int, run_id: str) -> dict[str, JSONValue]:
    """``item`` (what the annotator labels) with what the run found about it."""
    hint: dict[str, JSONValue] = {"given": given, "likely": likely,
                                  "likely_probability": likely_probability, "row": row,
                                  "run": run_id}
    return {**item, REVIEW_KEY: hint}


def item_of(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The item itself: ``payload`` without what a review added."""
    return {k: v for k, v in payload.items() if k != REVIEW_KEY}


def hint_of(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the run found about the item (given, likely, likely_probability, row, run), if
    it came from a review."""
    hint = payload.get(REVIEW_KEY)
    return dict(hint) if isinstance(hint, Mapping) else None
