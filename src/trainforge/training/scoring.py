"""The few metrics a search optimises, each oriented so that higher is better internally.

The evaluation module computes the full report; this one only ranks candidates. Classifier
predictions are probability matrices (n, k) over class codes 0..k-1; regressors' are vectors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata
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
    return np.asarray(np.asarray(proba).argmax(axis=1))


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula: ties count a half, as in sklearn.
    Ensemble selection calls this hundreds of times, so it skips sklearn's validation."""
    n_positive = int(positive.sum())
    n_negative = len(positive) - n_positive
    if n_positive == 0 or n_negative == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_positive * (n_positive + 1) / 2)
                 / (n_positive * n_negative))


def _roc_auc(y: np.ndarray, proba: np.ndarray) -> float:
    if proba.shape[1] == 2:
        return _binary_auc(np.asarray(y) == 1, proba[:, 1])
    scores = [_binary_auc(np.asarray(y) == c, proba[:, c]) for c in np.unique(y)]
    return float(np.nanmean(scores)) if scores else float("nan")  # one-vs-rest, macro


def _balanced_accuracy(y: np.ndarray, proba: np.ndarray) -> float:
    """Mean recall over the classes present in ``y`` (sklearn's definition)."""
    predicted = _labels(proba)
    return float(np.mean([np.mean(predicted[y == c] == c) for c in np.unique(y)]))


def _f1(y: np.ndarray, proba: np.ndarray) -> float:
    average = "binary" if proba.shape[1] == 2 else "macro"
    return float(skm.f1_score(y, _labels(proba), average=average, zero_division=0))


def _log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    clipped = np.clip(proba, 1e-15, 1.0)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(clipped[np.arange(len(y)), np.asarray(y, dtype=np.int64)])))


def _r2(y: np.ndarray, predicted: np.ndarray) -> float:
    truth = np.asarray(y, dtype=np.float64)
    total = float(((truth - truth.mean()) ** 2).sum())
    residual = float(((truth - predicted) ** 2).sum())
    if total == 0.0:
        return 1.0 if residual == 0.0 else 0.0
    return 1.0 - residual / total


def _rmse(y: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y) - predicted) ** 2)))


CLASSIFICATION: dict[str, Scorer] = {
    "roc_auc": Scorer("roc_auc", True, _roc_auc),
    "balanced_accuracy": Scorer("balanced_accuracy", True, _balanced_accuracy),
    "accuracy": Scorer("accuracy", True, lambda y, p: float(np.mean(_labels(p) == y))),
    "f1": Scorer("f1", True, _f1),
    "log_loss": Scorer("log_loss", False, _log_loss),
}
REGRESSION: dict[str, Scorer] = {
    "r2": Scorer("r2", True, _r2),
    "rmse": Scorer("rmse", False, _rmse),
    "mae": Scorer("mae", False, lambda y, p: float(np.mean(np.abs(np.asarray(y) - p)))),
}


def scorer_for(metric: str, kind: TaskKind) -> Scorer:
    """The scorer of ``metric`` for a ``kind`` task; UnknownMetric names the ones that apply."""
    table = CLASSIFICATION if kind.is_classification else REGRESSION
    if metric not in table:
        raise UnknownMetric(metric, kind.value, sorted(table))
    return table[metric]
