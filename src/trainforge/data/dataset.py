"""The Dataset: an immutable table with its schema, fingerprint and source."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum

import pandas as pd


class ColumnKind(StrEnum):
    """The semantic kind of a column: decides how it is profiled and prepared."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    TEXT = "text"
    IMAGE = "image"  # a path to an image file (or, in a request, its bytes)
    ID = "id"  # unique per row (keys, names): never a feature


Schema = dict[str, ColumnKind]


def fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of the table's canonical content: column names, dtypes and values, in order."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    digest.update("\x1f".join(str(t) for t in frame.dtypes).encode())
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest.update(hashed.tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Dataset:
    """A table read from ``source``; ``fingerprint`` is its version."""

    frame: pd.DataFrame
    schema: Schema
    source: str
    fingerprint: str = field(default="")

    def __post_init__(self) -> None:
        if not self.fingerprint:
            object.__setattr__(self, "fingerprint", fingerprint(self.frame))

    @property
    def n_rows(self) -> int:
        return len(self.frame)

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]
