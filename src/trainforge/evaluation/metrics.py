"""Metric functions: small and pure, on numpy arrays; NaN where a metric is undefined.

Classification metrics take class *codes* 0..k-1 for the truth and a (n, k) probability
matrix (columns in ``Task.classes`` order) or predicted codes; regression metrics take the
true and predicted numbers. ``METRICS`` names every metric a task can optimise
(``--metric``), with its direction and its perfect score.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

from trainforge.data.task import TaskKind
from trainforge.errors import UnknownMetric

Array = np.ndarray

# probabilities are clipped this far from 0 and 1 so one confident mistake gives a finite log loss
_PROBA_FLOOR = 1e-15


# ---- classification: labels ---------------------------------------------------------------------
def accuracy(y_true: Array, y_pred: Array) -> float:
    """Share of rows whose predicted class is the true one."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred))) if len(y_true) else math.nan


def balanced_accuracy(y_true: Array, y_pred: Array) -> float:
    """Mean recall over the classes present in the truth: a rare class counts as much as a common one."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    present = np.unique(y_true)
    if len(present) == 0:
        return math.nan
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in present]))


def precision_recall_f1(y_true: Array, y_pred: Array, *, n_classes: int
                        ) -> tuple[Array, Array, Array, Array]:
    """Per-class precision, recall, F1 and support (rows of each class), for codes 0..k-1.

    A class never predicted has precision 0; a class absent from the truth has recall 0.
    """
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=np.arange(n_classes), average=None, zero_division=0.0)
    return (np.asarray(precision, dtype="float64"), np.asarray(recall, dtype="float64"),
            np.asarray(f1, dtype="float64"), np.asarray(support, dtype="int64"))


def confusion_counts(y_true: Array, y_pred: Array, *, n_classes: int) -> Array:
    """(k, k) counts: row = true class, column = predicted class."""
    return np.asarray(skm.confusion_matrix(y_true, y_pred, labels=np.arange(n_classes)),
                      dtype="int64")


def _f1_average(y_true: Array, proba: Array, average: str) -> float:
    y_pred = proba.argmax(axis=1)
    present = np.union1d(np.unique(y_true), np.unique(y_pred))
    return float(skm.f1_score(y_true, y_pred, labels=present, average=average, zero_division=0.0))


def f1_positive(y_true: Array, proba: Array) -> float:
    """F1 of the positive class, classes[1] (binary tasks)."""
    if len(y_true) == 0:
        return math.nan
    return float(skm.f1_score(np.asarray(y_true) == 1, np.asarray(proba).argmax(axis=1) == 1,
                              zero_division=0.0))


def f1_macro(y_true: Array, proba: Array) -> float:
    """Unweighted mean F1 over the classes present in the truth or the predictions."""
    return _f1_average(y_true, proba, "macro") if len(y_true) else math.nan


def f1_weighted(y_true: Array, proba: Array) -> float:
    """Mean F1 over the classes, weighted by how many rows each class has."""
    return _f1_average(y_true, proba, "weighted") if len(y_true) else math.nan


# ---- classification: probabilities --------------------------------------------------------------
def binary_roc_auc(is_positive: Array, score: Array) -> float:
    """Area under the ROC curve; NaN unless both outcomes occur."""
    is_positive = np.asarray(is_positive, dtype=bool)
    if is_positive.all() or not is_positive.any():
        return math.nan
    return float(skm.roc_auc_score(is_positive, score))


def binary_average_precision(is_positive: Array, score: Array) -> float:
    """Area under the precision-recall curve (average precision); NaN unless both outcomes
    occur (with positives only it would be a meaningless 1.0)."""
    is_positive = np.asarray(is_positive, dtype=bool)
    if is_positive.all() or not is_positive.any():
        return math.nan
    return float(skm.average_precision_score(is_positive, score))


def _one_vs_rest(y_true: Array, proba: Array, curve: Callable[[Array, Array], float]) -> float:
    if proba.shape[1] == 2:  # binary: the positive class is classes[1]
        return curve(y_true == 1, proba[:, 1])
    scores = [curve(y_true == c, proba[:, c]) for c in range(proba.shape[1])]
    defined = [s for s in scores if not math.isnan(s)]
    return float(np.mean(defined)) if defined else math.nan


def roc_auc(y_true: Array, proba: Array) -> float:
    """ROC-AUC; one-vs-rest macro average over the classes where it is defined when k > 2."""
    return _one_vs_rest(np.asarray(y_true), np.asarray(proba), binary_roc_auc)


def pr_auc(y_true: Array, proba: Array) -> float:
    """Average precision of classes[1] (binary); one-vs-rest macro average when k > 2."""
    return _one_vs_rest(np.asarray(y_true), np.asarray(proba), binary_average_precision)


def log_loss(y_true: Array, proba: Array) -> float:
    """Mean negative log-likelihood of the true class (natural log); lower is better."""
    y_true, proba = np.asarray(y_true, dtype="int64"), np.asarray(proba, dtype="float64")
    if len(y_true) == 0:
        return math.nan
    picked = np.clip(proba[np.arange(len(y_true)), y_true], _PROBA_FLOOR, 1.0)
    return float(-np.mean(np.log(picked)))


# ---- regression ---------------------------------------------------------------------------------
def rmse(y_true: Array, y_pred: Array) -> float:
    """Root mean squared error, in the target's unit."""
    if len(y_true) == 0:
        return math.nan
    return float(np.sqrt(np.mean((np.asarray(y_true) - np.asarray(y_pred)) ** 2)))


def mae(y_true: Array, y_pred: Array) -> float:
    """Mean absolute error, in the target's unit."""
    if len(y_true) == 0:
        return math.nan
    return float(np.mean(np.abs(np.asarray(y_true) - np.asarray(y_pred))))


def r2(y_true: Array, y_pred: Array) -> float:
    """Share of the target's variance explained (1 is perfect, 0 = predicting the mean).

    NaN when the truth is constant or has fewer than two rows: there is no variance to explain.
    """
    y_true, y_pred = np.asarray(y_true, dtype="float64"), np.asarray(y_pred, dtype="float64")
    total = float(np.sum((y_true - y_true.mean()) ** 2)) if len(y_true) else 0.0
    if len(y_true) < 2 or total == 0.0:
        return math.nan
    return 1.0 - float(np.sum((y_true - y_pred) ** 2)) / total


def mape(y_true: Array, y_pred: Array) -> float:
    """Mean absolute percentage error (0.1 = 10 %) over the rows whose truth is not 0."""
    y_true, y_pred = np.asarray(y_true, dtype="float64"), np.asarray(y_pred, dtype="float64")
    nonzero = y_true != 0
    if not nonzero.any():
        return math.nan
    return float(np.mean(np.abs((y_true[nonzero] - y_pred[nonzero]) / y_true[nonzero])))


# ---- the named metrics a task can optimise ------------------------------------------------------
_CLASSIFICATION = frozenset({TaskKind.BINARY, TaskKind.MULTICLASS})
_BINARY = frozenset({TaskKind.BINARY})
_REGRESSION = frozenset({TaskKind.REGRESSION})


@dataclass(frozen=True)
class Metric:
    """A metric by name: ``compute(y_true, output)`` where ``output`` is the (n, k) probability
    matrix for classification and the predicted numbers for regression."""

    name: str
    kinds: frozenset[TaskKind]
    higher_is_better: bool
    perfect: float  # the best score possible: 1.0 for accuracy, 0.0 for an error
    compute: Callable[[Array, Array], float]
    chance: float | None = None  # a trivial model's score whatever the data (AUC 0.5, R² 0)

    def better(self, a: float, b: float) -> bool:
        """Whether score ``a`` is strictly better than ``b``."""
        return a > b if self.higher_is_better else a < b


def _on_labels(fn: Callable[[Array, Array], float]) -> Callable[[Array, Array], float]:
    return lambda y_true, proba: fn(y_true, np.asarray(proba).argmax(axis=1))


METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("roc_auc", _CLASSIFICATION, True, 1.0, roc_auc, chance=0.5),
    Metric("pr_auc", _CLASSIFICATION, True, 1.0, pr_auc),
    Metric("accuracy", _CLASSIFICATION, True, 1.0, _on_labels(accuracy)),
    Metric("balanced_accuracy", _CLASSIFICATION, True, 1.0, _on_labels(balanced_accuracy)),
    Metric("f1", _BINARY, True, 1.0, f1_positive),
    Metric("f1_macro", _CLASSIFICATION, True, 1.0, f1_macro),
    Metric("f1_weighted", _CLASSIFICATION, True, 1.0, f1_weighted),
    Metric("log_loss", _CLASSIFICATION, False, 0.0, log_loss),
    Metric("r2", _REGRESSION, True, 1.0, r2, chance=0.0),
    Metric("rmse", _REGRESSION, False, 0.0, rmse),
    Metric("mae", _REGRESSION, False, 0.0, mae),
    Metric("mape", _REGRESSION, False, 0.0, mape),
]}


def metric_names(kind: TaskKind) -> list[str]:
    """The metrics that apply to a task kind, in the order the report shows them."""
    return [name for name, m in METRICS.items() if kind in m.kinds]


def get_metric(name: str, kind: TaskKind) -> Metric:
    """The metric called ``name``; raises UnknownMetric when it does not fit the task kind."""
    metric = METRICS.get(name)
    if metric is None or kind not in metric.kinds:
        raise UnknownMetric(name, kind.value, metric_names(kind))
    return metric


def score(name: str, kind: TaskKind, y_true: Array, output: Array) -> float:
    """The named metric of ``output`` against ``y_true`` (codes or numbers); NaN if undefined."""
    return get_metric(name, kind).compute(np.asarray(y_true), np.asarray(output))


def class_shares(y_true: Array, *, n_classes: int) -> Array:
    """Share of rows in each class 0..k-1 (the prior a trivial classifier predicts)."""
    counts = np.bincount(np.asarray(y_true, dtype="int64"), minlength=n_classes)
    return counts / max(int(counts.sum()), 1)


def baseline_score(name: str, kind: TaskKind, y_train: Array, y_eval: Array,
                   *, n_classes: int = 0) -> float:
    """The score of a trivial model that learned only the training target's distribution
    (class shares, or the mean), scored on ``y_eval``: the floor a real model must beat."""
    y_eval = np.asarray(y_eval)
    if kind.is_classification:
        prior = class_shares(y_train, n_classes=n_classes)
        output = np.tile(prior, (len(y_eval), 1))
    else:
        output = np.full(len(y_eval), float(np.mean(np.asarray(y_train, dtype="float64"))))
    return score(name, kind, y_eval, output)


def labels_present(y_true: Array, classes: Sequence[str]) -> list[str]:
    """The class labels that occur in the truth codes, in class order."""
    present = set(np.unique(np.asarray(y_true)).tolist())
    return [label for code, label in enumerate(classes) if code in present]
