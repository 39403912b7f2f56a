"""What a labeling project is made from: the items an annotator sees, read from a table (a
text or image-path column, or the rows of a table whose target column is empty) or a folder
of images (one item per image, in path order)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from trainforge.data.images import IMAGE_EXTENSIONS
from trainforge.data.limits import NO_LIMITS, TableLimits
from trainforge.data.read import read_table, resolve_image_columns
from trainforge.errors import ColumnNotFound, EmptyData, NoItemsSource
from trainforge.json_value import JSONValue
from trainforge.labeling.image_files import image_file
from trainforge.store.json_values import to_json_value

DEFAULT_TARGET = "label"  # the label's column in an export when the source names none


@dataclass(frozen=True)
class SourceItems:
    """The items of a new project, in order, and how they are shown and exported."""

    modality: str  # text, image or table
    item_column: str | None  # the text or image column; None when the row is the item
    target: str  # the label's column in an export
    payloads: list[dict[str, JSONValue]]


def read_items(source: Path, *, text_column: str | None = None,
               image_column: str | None = None,
               limits: TableLimits = NO_LIMITS) -> SourceItems:
    """The items of ``source``: a folder of images, or a table with ``text_column``,
    ``image_column``, or an empty target column.

    Raises ImageUnreadable / ImagePathRefused for an image that is missing or not an image
    (naming its row or file), ColumnNotFound for a column the table lacks, NoItemsSource when
    nothing says what to show.
    """
    if source.is_dir():
        return _image_folder(source)
    table = read_table(source, limits=limits)
    frame, name = table.frame, table.source
    for column, flag in ((text_column, "--text-column"), (image_column, "--image-column")):
        if column is not None and column not in frame.columns:
            raise ColumnNotFound(column, name, table.columns, flag)
    empty = [str(c) for c in frame.columns if frame[c].isna().all()]
    if text_column is not None:
        texts = frame[text_column].astype("string").fillna("")
        return SourceItems("text", text_column, _target(empty),
                           [{"text": str(t)} for t in texts])
    if image_column is not None:
        return _image_rows(frame, image_column, source.parent, target=_target(empty))
    if len(empty) != 1:
        detail = ("no column is empty" if not empty
                  else f"{len(empty)} columns are empty ({', '.join(empty[:5])})")
        raise NoItemsSource(name, f"{detail}, and no --text-column or --image-column is given")
    rows = frame.drop(columns=empty).to_dict(orient="records")
    return SourceItems("table", None, empty[0],
                       [to_json_value(row, where=f"row {i + 1}") for i, row in enumerate(rows)])


def _target(empty: list[str]) -> str:
    """The table's empty column, if it has exactly one: the labels go there in an export."""
    return empty[0] if len(empty) == 1 else DEFAULT_TARGET


def _image_rows(frame: pd.DataFrame, column: str, folder: Path, *, target: str) -> SourceItems:
    missing = frame.index[frame[column].isna()]
    if len(missing):
        raise NoItemsSource(str(folder), f"row {int(missing[0]) + 1:,} of column {column!r} has "
                            "no image path; give every row one")
    resolved = resolve_image_columns(frame[[column]].astype(str), [column], table_folder=folder)
    paths = [str(p) for p in resolved[column]]
    for row, path in enumerate(paths, start=1):
        image_file(path, where=f"row {row:,}, column {column!r}")
    return SourceItems("image", column, target, [{"path": p} for p in paths])


def _image_folder(folder: Path) -> SourceItems:
    root = Path(os.path.realpath(folder))
    paths: list[str] = []
    for directory, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for file in sorted(f for f in files if not f.startswith(".")):
            path = Path(directory) / file
            if path.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            resolved = Path(os.path.realpath(path))
            if not resolved.is_relative_to(root):
                continue  # a link out of the folder is not the folder's image
            image_file(resolved, where=str(path.relative_to(root)))
            paths.append(str(resolved))
    if not paths:
        raise EmptyData(str(folder), "it holds no image files")
    return SourceItems("image", "path", DEFAULT_TARGET, [{"path": p} for p in paths])


def items_frame(payloads: list[tuple[int, dict[str, Any]]]) -> pd.DataFrame:
    """The items as the quick model takes them: index = position; a ``text`` or ``path``
    column, or the row's columns for a table."""
    index = pd.Index([p for p, _ in payloads], name="item")
    return pd.DataFrame([payload for _, payload in payloads], index=index)
