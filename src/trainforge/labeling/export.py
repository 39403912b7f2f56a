"""A project's labels as a table to train on (one row per item with a class, the class in the
project's target column) and as the lineage beside it: who labelled what, when."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from trainforge.errors import NothingLabelled
from trainforge.labeling.consensus import consensus
from trainforge.labeling.review_items import item_of
from trainforge.labeling.spreadsheet_safe import safe_cells
from trainforge.store.labeling import LabelRecord, ProjectRecord


def training_table(project: ProjectRecord, items: Mapping[int, Mapping[str, Any]],
                   labels: Sequence[LabelRecord], *, folder: Path) -> pd.DataFrame:
    """One row per item with a settled or majority class, in item order: the item's text,
    image path (relative to ``folder`` when inside it, as a table's paths are read) or
    columns, and the class in ``project["target"]``.

    Raises NothingLabelled when no item has a class yet.
    """
    chosen = consensus(labels)
    if not chosen:
        raise NothingLabelled(project["name"])
    rows = [{**_shown(project, items[position], folder), project["target"]: label}
            for position, label in chosen.items()]
    return pd.DataFrame(rows)


def _shown(project: ProjectRecord, payload: Mapping[str, Any], folder: Path) -> dict[str, Any]:
    payload = item_of(payload)  # a review's suggestion is never a column to train on
    column = project["item_column"]
    if project["modality"] == "text" and column is not None:
        return {column: payload["text"]}
    if project["modality"] == "image" and column is not None:
        path = Path(payload["path"])
        inside = path.is_relative_to(os.path.realpath(folder))
        return {column: path.relative_to(os.path.realpath(folder)).as_posix() if inside
                else str(path)}
    return dict(payload)


def lineage_table(labels: Sequence[LabelRecord]) -> pd.DataFrame:
    """Every current label (skips left out): item, class, annotator, when, whether a
    reviewer's settling label; no cell of it a spreadsheet would run as a formula (class and
    annotator names come from people and imported files)."""
    return safe_cells(pd.DataFrame(
        [{"item": r["position"], "label": r["label"], "annotator": r["annotator"],
          "labelled_at": r["created_at"].isoformat(), "final": r["final"]}
         for r in labels if r["label"] is not None],
        columns=["item", "label", "annotator", "labelled_at", "final"]))
