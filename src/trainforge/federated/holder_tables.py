"""A simulated holder's data on disk, as a real holder would keep it: its rows in a table of its
own and, for images, its own copy of its image files beside that table.

A client reads its data as trainforge reads any table, and image paths in a table may only
lead inside the table's folder (``data.image_paths``); so a holder's images are copied into a
folder of its own, named by row, and its table names them relative to itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

IMAGES = "images"  # beside the holder's table: the holder's own image files


def write_holder_table(rows: pd.DataFrame, folder: Path, *, image_column: str | None) -> Path:
    """Write ``rows`` to ``folder``/table.parquet (copying the images of ``image_column``
    into ``folder``/images) and return the table's path."""
    folder.mkdir(parents=True, exist_ok=True)
    if image_column is not None:
        (folder / IMAGES).mkdir(exist_ok=True)
        copied = []
        for position, source in enumerate(rows[image_column].tolist()):
            if not isinstance(source, str):  # a missing image stays missing
                copied.append(source)
                continue
            name = f"{IMAGES}/{position:06d}{Path(source).suffix.lower()}"
            shutil.copyfile(source, folder / name)
            copied.append(name)
        rows = rows.assign(**{image_column: copied})
    table = folder / "table.parquet"
    rows.to_parquet(table, index=False)
    return table
