"""How candidates are validated: k-fold cross-validation on small tables, a holdout on large."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import (
    KFold,
    RepeatedKFold,
    RepeatedStratifiedKFold,
    StratifiedKFold,
    train_test_split,
)

CV_MAX_ROWS = 12_000  # above this a single holdout is precise enough and k× cheaper
FIVE_FOLD_MAX_ROWS = 3_000  # up to this, five folds; above it three (each fold costs more)
REPEAT_MAX_ROWS = 1_500  # up to this, the folds are drawn twice: a steadier score to select by


@dataclass(frozen=True)
class Resampling:
    """``folds`` are (train rows, validation rows); ``scored`` the rows with a validation
    prediction (all rows for cross-validation, the holdout rows otherwise)."""

    kind: str  # "cv" or "holdout"
    folds: list[tuple[np.ndarray, np.ndarray]]
    scored: np.ndarray
    repeats: int = 1

    def describe(self) -> str:
        if self.kind == "cv":
            k = len(self.folds) // self.repeats
            return f"{k}-fold cross-validation" + (f", {self.repeats} times"
                                                     if self.repeats > 1 else "")
        return f"holdout of {len(self.scored):,} rows"

    @property
    def train_fraction(self) -> float:
        n_rows = len(self.folds[0][0]) + len(self.folds[0][1])
        return len(self.folds[0][0]) / n_rows


def plan_resampling(y: np.ndarray, *, classification: bool, seed: int,
                    max_cv_rows: int = CV_MAX_ROWS, n_folds: int = 5,
                    holdout_fraction: float = 0.2) -> Resampling:
    """Folds for ``y``: stratified by class for classifiers when every class can be split."""
    n_rows = len(y)
    _, counts = np.unique(y, return_counts=True)
    stratify = classification and counts.min() >= 2
    rows = np.arange(n_rows)
    if n_rows <= max_cv_rows:
        k = max(2, min(n_folds if n_rows <= FIVE_FOLD_MAX_ROWS else 3, n_rows // 2))
        repeats = 2 if n_rows <= REPEAT_MAX_ROWS else 1
        splitter: Any
        if stratify:
            splitter = (RepeatedStratifiedKFold(n_splits=k, n_repeats=repeats, random_state=seed)
                        if repeats > 1 else
                        StratifiedKFold(n_splits=k, shuffle=True, random_state=seed))
        else:
            splitter = (RepeatedKFold(n_splits=k, n_repeats=repeats, random_state=seed)
                        if repeats > 1 else KFold(n_splits=k, shuffle=True, random_state=seed))
        folds = list(splitter.split(rows, y))
        return Resampling("cv", [(a, b) for a, b in folds], rows, repeats)
    train, valid = train_test_split(rows, test_size=holdout_fraction, random_state=seed,
                                    stratify=y if stratify else None)
    train, valid = np.sort(train), np.sort(valid)
    return Resampling("holdout", [(train, valid)], valid, 1)
