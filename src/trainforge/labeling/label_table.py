"""Labels as a plain CSV, in and out: one row per label with the item's number, the class,
who gave it, when, and a note; a text or image project adds the item's text or path."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from trainforge.errors import BadImport, UnknownImportFields
from trainforge.labeling.imported import MAX_NOTE_CHARS, ImportedLabel, annotator_name
from trainforge.labeling.spreadsheet_safe import safe_cells, unsafe_text

COLUMNS = ("item", "label", "annotator", "labelled_at", "note")
SHOWN = ("text", "path")  # the item's text or image path, written for people, ignored back


def write_rows(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """The CSV of ``rows`` (each with ``COLUMNS`` and perhaps a ``SHOWN`` one), no cell of
    which a spreadsheet runs as a formula (``read_rows`` reads them back as they were)."""
    text: str = safe_cells(pd.DataFrame(list(rows))).to_csv(index=False)
    return text.encode()


def read_rows(raw: bytes, *, source: str) -> list[ImportedLabel]:
    """The labels of a CSV with ``item`` and ``label`` columns (``annotator``,
    ``labelled_at``, ``note``, ``text``, ``path`` optional).

    Raises UnknownImportFields naming other columns, BadImport for a missing column or an
    item that is not a number.
    """
    try:
        frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as error:
        raise BadImport(source, f"is not a CSV table ({type(error).__name__})",
                        "give a CSV with a header row: item,label") from None
    unknown = set(frame.columns) - {*COLUMNS, *SHOWN}
    if unknown:
        raise UnknownImportFields(source, sorted(map(str, unknown)), [*COLUMNS, *SHOWN])
    for needed in ("item", "label"):
        if needed not in frame.columns:
            raise BadImport(source, f"has no {needed!r} column",
                            "give a CSV with a header row: item,label")
    found = []
    for number, row in enumerate(frame.to_dict(orient="records"), start=2):
        item = str(row["item"]).strip()
        if not item.isdigit():
            raise BadImport(f"{source}, line {number:,}", "item is not a whole number",
                            "give the item numbers `trainforge label export --format csv` "
                            "writes (0 = the first row of the source)")
        note = unsafe_text(str(row.get("note") or "")).strip()[:MAX_NOTE_CHARS] or None
        annotator = unsafe_text(str(row.get("annotator") or "")) or None
        found.append(ImportedLabel(int(item), annotator_name(annotator),
                                   unsafe_text(str(row["label"])).strip(), note))
    return found
