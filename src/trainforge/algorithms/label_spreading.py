"""Label spreading that always answers with probabilities.

scikit-learn's ``LabelSpreading`` gives NaN probabilities to a row none of whose nearest
neighbours carries a label (its normaliser is zero). Such a row gets the labeled rows' class
shares instead: the honest answer when the graph says nothing about it.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
from sklearn.semi_supervised import LabelSpreading


class SpreadLabels(LabelSpreading):  # type: ignore[misc]
    """``LabelSpreading`` (unlabeled rows have target -1) with class shares for lone rows."""

    def fit(self, X: Any, y: Any) -> Self:
        codes = np.asarray(y)
        with np.errstate(invalid="ignore", divide="ignore"):
            super().fit(X, codes)
        known = codes[codes >= 0]
        counts = np.array([(known == c).sum() for c in self.classes_[self.classes_ >= 0]],
                          dtype=np.float64)
        self.class_shares_ = counts / counts.sum()
        fitted: np.ndarray = self.label_distributions_  # type: ignore[has-type]
        self.label_distributions_ = self._filled(fitted)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self._filled(super().predict_proba(X))

    def _filled(self, proba: np.ndarray) -> np.ndarray:
        proba = np.array(proba, dtype=np.float64)
        lone = ~np.isfinite(proba).all(axis=1)
        proba[lone] = self.class_shares_
        return proba
