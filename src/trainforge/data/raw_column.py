"""The column a network reads as it is: image files, or text joined across text columns.

Networks encode their input themselves (decoding and resizing images, tokenizing text), so
their "preprocessing" only picks the column. It is a fitted scikit-learn transformer like
``TablePreprocessor``, so a model member is always (preprocessor, estimator).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from trainforge.data.dataset import ColumnKind, Schema
from trainforge.errors import NoUsableFeatures

TEXT_SEPARATOR = "\n"


class RawColumn(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Selects the image column (``kind="image"``) or joins the text columns (``"text"``).

    ``transform`` returns a 1-D object array: image paths or bytes, or strings ("" for a
    missing text).
    """

    def __init__(self, columns: Sequence[tuple[str, str]] = (), *, kind: str = "text") -> None:
        self.columns = columns
        self.kind = kind

    def fit(self, X: pd.DataFrame, y: Any = None) -> Self:
        wanted = ColumnKind.IMAGE.value if self.kind == "image" else ColumnKind.TEXT.value
        chosen = [name for name, kind in self.columns if kind == wanted]
        if not chosen:
            raise NoUsableFeatures("the training table",
                                   f"a {self.kind} network needs a {wanted} column, and the "
                                   "features have none")
        # one image per row: the first image column; text columns are read together
        self.selected_ = chosen[:1] if self.kind == "image" else chosen
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        if self.kind == "image":
            return np.asarray(X[self.selected_[0]].to_numpy(dtype=object), dtype=object)
        parts = [[_text(v) for v in X[name].tolist()] for name in self.selected_]
        joined = [TEXT_SEPARATOR.join(p for p in row if p) for row in zip(*parts, strict=True)]
        out = np.empty(len(joined), dtype=object)
        out[:] = joined
        return out


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def make_raw_column(schema: Schema, features: Sequence[str], *, kind: str) -> RawColumn:
    return RawColumn([(f, ColumnKind(schema[f]).value) for f in features], kind=kind)
