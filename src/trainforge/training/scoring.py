"""The few metrics a search optimises, each oriented so that higher is better internally.

The evaluation module computes the full report; this one only ranks candidates. Classifier
predictions are probability matrices (n, k) over class codes 0..k-1; regressors' are vectors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

from trainforge.data.task import TaskKind
from trainforge.errors import UnknownMetric

Score = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class Scorer:
    """``score`` gives the metric as users read it; ``utility`` the same, higher-is-better."""

    name: str
    greater_is_better: bool
    function: Score

    def score(self, y_true: np.ndarray, predicted: np.ndarray) -> float:
        return float(self.function(y_true, predicted))

    def utility(self, y_true: np.ndarray, predicted: np.ndarray) -> float:
        value = self.score(y_true, predicted)
        if not np.isfinite(value):
            return -np.inf
        return value if self.greater_is_better else -value


def _labels(proba: np.ndarray) -> np.ndarray:
    return np.asarray(proba).argmax(axis=1)


def _roc_auc(y: np.ndarray, proba: np.ndarray) -> float:
    if len(np.unique(y)) < 2:
        return float("nan")
    if proba.shape[1] == 2:
        return float(skm.roc_auc_score(y, proba[:, 1]))
    present = np.unique(y)
    scores = [skm.roc_auc_score(y == c, proba[:, c]) for c in present]
    return float(np.mean(scores))  # one-vs-rest, macro over the classes present


def _f1(y: np.ndarray, proba: np.ndarray) -> float:
    average = "binary" if proba.shape[1] == 2 else "macro"
    return float(skm.f1_score(y, _labels(proba), average=average, zero_division=0))


def _log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    return float(skm.log_loss(y, np.clip(proba, 1e-15, 1.0), labels=list(range(proba.shape[1]))))


def _rmse(y: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y) - predicted) ** 2)))


CLASSIFICATION: dict[str, Scorer] = {
    "roc_auc": Scorer("roc_auc", True, _roc_auc),
    "balanced_accuracy": Scorer("balanced_accuracy", True, lambda y, p: float(
        skm.balanced_accuracy_score(y, _labels(p)))),
    "accuracy": Scorer("accuracy", True, lambda y, p: float(np.mean(_labels(p) == y))),
    "f1": Scorer("f1", True, _f1),
    "log_loss": Scorer("log_loss", False, _log_loss),
}
REGRESSION: dict[str, Scorer] = {
    "r2": Scorer("r2", True, lambda y, p: float(skm.r2_score(y, p))),
    "rmse": Scorer("rmse", False, _rmse),
    "mae": Scorer("mae", False, lambda y, p: float(np.mean(np.abs(np.asarray(y) - p)))),
}


def scorer_for(metric: str, kind: TaskKind) -> Scorer:
    """The scorer of ``metric`` for a ``kind`` task; UnknownMetric names the ones that apply."""
    table = CLASSIFICATION if kind.is_classification else REGRESSION
    if metric not in table:
        raise UnknownMetric(metric, kind.value, sorted(table))
    return table[metric]
