"""The reference profile a deployed model's traffic is compared with: what its training data
and its predictions on the test split looked like, small enough to travel in the package.

``build_reference`` returns a JSON-able dict (``reference.json`` in the package, a few tens of
KB), one entry per feature:

- a number: its decile cut points (``edges``, duplicates removed, so a discrete column has
  fewer bins), the share of the non-missing rows in each bin (``shares``, one more than the
  edges), ``min``, ``max``, the ``missing`` share and a seeded ``sample`` of at most 1,000
  values (for Kolmogorov–Smirnov);
- a category (or a boolean): the shares of its ``TOP_CATEGORIES`` most frequent values among
  the non-missing rows, the share of the ``other`` values, ``missing``, and ``complete``: every
  value seen in training is listed (only then can a new category be told from a rare one);
- anything else (text, dates, images, ids): ``{"kind": "skipped", "why": ...}``.

``prediction`` is the same for the model's output on the test split: class shares for a
classifier, deciles and a sample for a regressor's numbers or an anomaly model's scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from trainforge.algorithms.model import FeatureSpec
from trainforge.data.dataset import ColumnKind
from trainforge.data.task import Task, TaskKind

REFERENCE_FILE = "reference.json"
FORMAT = 1
MAX_SAMPLE = 1_000  # values kept per number: KS against 1,000 reference values is plenty
TOP_CATEGORIES = 50
_DECILES = np.linspace(0.1, 0.9, 9)


def build_reference(frame: pd.DataFrame, features: Sequence[FeatureSpec], *,
                    predictions: np.ndarray | None, task: Task, seed: int) -> dict[str, Any]:
    """The reference of ``features`` in ``frame`` (the training rows) and of ``predictions``
    (the model's output on the test split; None leaves the prediction part out).

    Example:
        >>> ref = build_reference(frame, model.features, predictions=model.predict(test),
        ...                       task=model.task, seed=0)
        >>> ref["features"]["age"]["kind"]
        'numeric'
    """
    rng = np.random.default_rng(seed)
    profiles = {spec.name: _profile(frame[spec.name], spec, rng) for spec in features
                if spec.name in frame}
    reference: dict[str, Any] = {"format": FORMAT, "n_rows": len(frame), "features": profiles,
                                 "prediction": None}
    if predictions is not None:
        reference["prediction"] = prediction_profile(np.asarray(predictions), task=task,
                                                     rng=rng)
    return reference


def predicted_labels(predictions: np.ndarray, *, task: Task) -> np.ndarray:
    """An evaluation's predictions as the log writes them: a classifier's class codes as its
    labels; anything else as it is."""
    if not task.kind.is_classification:
        return predictions
    return np.asarray(np.asarray(task.classes, dtype=object)[predictions.astype("int64")])


def prediction_profile(predictions: np.ndarray, *, task: Task,
                       rng: np.random.Generator) -> dict[str, Any]:
    """Class shares for a classifier (or segments of a clustering); else numbers."""
    column = pd.Series(predictions)
    logged_as = "score" if task.kind is TaskKind.ANOMALY else "prediction"
    if task.kind.is_classification or task.kind is TaskKind.CLUSTERING:
        return {**categorical_profile(column), "column": logged_as}
    return {**numeric_profile(column, rng), "column": logged_as}


def _profile(column: pd.Series, spec: FeatureSpec, rng: np.random.Generator) -> dict[str, Any]:
    if spec.kind is ColumnKind.NUMERIC:
        return numeric_profile(column, rng)
    if spec.kind in (ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN):
        return categorical_profile(column)
    return {"kind": "skipped", "why": f"a {spec.kind.value} column is not compared for drift"}


def numeric_profile(column: pd.Series, rng: np.random.Generator) -> dict[str, Any]:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    missing = float(np.mean(~np.isfinite(values))) if len(values) else 0.0
    present = values[np.isfinite(values)]
    if len(present) == 0:
        return {"kind": "numeric", "edges": [], "shares": [1.0], "min": None, "max": None,
                "missing": missing, "sample": []}
    edges = np.unique(np.quantile(present, _DECILES))
    sample = present if len(present) <= MAX_SAMPLE else rng.choice(present, MAX_SAMPLE,
                                                                    replace=False)
    return {"kind": "numeric", "edges": edges.tolist(),
            "shares": bin_shares(present, edges).tolist(),
            "min": float(present.min()), "max": float(present.max()), "missing": missing,
            "sample": np.sort(sample).tolist()}


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The share of ``values`` in each bin: below the first edge, between edges (upper edge
    included, as quantiles are), above the last."""
    counts = np.bincount(np.searchsorted(edges, values, side="left"),
                         minlength=len(edges) + 1)
    return counts / max(len(values), 1)


def categorical_profile(column: pd.Series) -> dict[str, Any]:
    text = category_text(column)
    missing = float(text.isna().mean()) if len(text) else 0.0
    counts = text.dropna().value_counts()
    total = max(int(counts.sum()), 1)
    top = counts.head(TOP_CATEGORIES)
    return {"kind": "categorical",
            "shares": {str(k): int(v) / total for k, v in top.items()},
            "other": float(counts.iloc[TOP_CATEGORIES:].sum()) / total,
            "missing": missing, "complete": len(counts) <= TOP_CATEGORIES}


def category_text(column: pd.Series) -> pd.Series:
    """Categories compared as text, as the model compares them (True and "True" are one)."""
    return pd.Series([None if v is None or v is pd.NA or v != v else str(v)  # noqa: PLR0124
                      for v in column.tolist()], index=column.index, dtype=object)
