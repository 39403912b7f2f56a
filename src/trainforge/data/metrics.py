"""The metric registry: every metric a supervised task can optimise, written once.

Task inference (which metrics ``--metric`` accepts for a kind of task, and the default), the
search (which candidate is better) and the evaluation (the report's numbers) all read
``METRICS``, so a metric that is accepted can be optimised and reported, and every place
gives the same number for the same predictions.

It lives in ``data`` because the Task that names its metric is made here, and imports flow
one way (DESIGN.md): ``training`` and ``evaluation`` import ``data``, never the reverse, so
this is the leftmost place all three can read. A top-level module beside ``errors.py`` would
have to import ``data`` (for TaskKind) while ``data`` imported it.

The truth is class codes 0..k-1 (classification) or numbers; the output is the (n, k)
probability matrix (columns in ``Task.classes`` order) or the predicted numbers. A metric that
reads labels scores each row's most probable class. The edge cases have one answer here:

- no rows, or an output holding NaN or infinity: NaN. The search ranks such a candidate
  last; the evaluation leaves the metric out and says why.
- one class present: roc_auc and pr_auc are NaN for a binary task (no ranking to score),
  and average over the classes where they are defined when k > 2; label metrics follow
  scikit-learn (balanced accuracy averages recall over the classes in the truth; F1 is 0
  where a class has no right prediction, and macro F1 averages over the classes that occur
  in the truth or the predictions).
- log_loss on rows that do not sum to 1: each row is divided by its sum (as older
  scikit-learn did; 1.9 only warns and scores the raw values), after raising entries below
  machine epsilon to it, so a zero or negative entry still gives a finite loss.
- r2 on a constant truth: 1.0 when every prediction is exact, else 0.0 (scikit-learn's
  ``force_finite``: a degenerate fold must not sink a search); NaN under 2 rows.
- mape with zeros in the truth: those rows are skipped, NaN if every row is 0. scikit-learn
  divides by machine epsilon instead, so one zero would make it ~1e15 and drown the rest.

Each metric is implemented on ``sklearn.metrics`` (what the evaluation reports) and has a
hand-written ``fast`` twin for the search's inner loop, which measurably pays for
scikit-learn's input checks with every metric (figures at ``METRICS``); a test holds each
twin to its implementation within 1e-9.

scikit-learn and SciPy are imported on the first score, not with this module: loading a
model imports the Task, and should not pay for them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from trainforge.data.task_kind import TaskKind
from trainforge.errors import UnknownMetric

Array = np.ndarray
Score = Callable[[Array, Array], float]

# log loss floors each probability here (scikit-learn's own clip, for float64)
_EPS = float(np.finfo(np.float64).eps)


# ---- ranking: one score per class -----------------------------------------------------------
def binary_roc_auc(is_positive: Array, score: Array) -> float:
    """Area under the ROC curve; NaN unless both outcomes occur."""
    from sklearn import metrics as skm

    is_positive = np.asarray(is_positive, dtype=bool)
    if is_positive.all() or not is_positive.any():
        return math.nan
    return float(skm.roc_auc_score(is_positive, score))


def _binary_roc_auc_fast(is_positive: Array, score: Array) -> float:
    """The rank-sum (Mann-Whitney) form of ROC AUC: ties count a half, as in scikit-learn."""
    from scipy.stats import rankdata

    n_positive = int(is_positive.sum())
    n_negative = len(is_positive) - n_positive
    if n_positive == 0 or n_negative == 0:
        return math.nan
    rank_sum = float(rankdata(score)[is_positive].sum())
    return (rank_sum - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative)


def binary_average_precision(is_positive: Array, score: Array) -> float:
    """Area under the precision-recall curve (average precision); NaN unless both outcomes
    occur (with positives only it would be a meaningless 1.0)."""
    from sklearn import metrics as skm

    is_positive = np.asarray(is_positive, dtype=bool)
    if is_positive.all() or not is_positive.any():
        return math.nan
    return float(skm.average_precision_score(is_positive, score))


def _binary_average_precision_fast(is_positive: Array, score: Array) -> float:
    """Sum over the distinct scores, highest first, of precision x the recall gained there."""
    if is_positive.all() or not is_positive.any():
        return math.nan
    order = np.argsort(-score, kind="mergesort")
    ranked = score[order]
    last_of_each_score = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]
    true_positives = np.cumsum(is_positive[order])[last_of_each_score]
    precision = true_positives / (last_of_each_score + 1)
    recall = true_positives / true_positives[-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def _one_vs_rest(curve: Callable[[Array, Array], float]) -> Score:
    """A binary ranking metric for any k: classes[1] is positive when k = 2; else the mean,
    one class against the rest, over the classes where it is defined."""
    def score(y_true: Array, proba: Array) -> float:
        if proba.shape[1] == 2:
            return curve(y_true == 1, proba[:, 1])
        scores = [curve(y_true == c, proba[:, c]) for c in range(proba.shape[1])]
        defined = [s for s in scores if not math.isnan(s)]
        return float(np.mean(defined)) if defined else math.nan
    return score


# ---- labels: the most probable class of each row --------------------------------------------
def _accuracy(y_true: Array, y_pred: Array) -> float:
    from sklearn import metrics as skm

    return float(skm.accuracy_score(y_true, y_pred))


def _accuracy_fast(y_true: Array, y_pred: Array) -> float:
    return float(np.mean(y_true == y_pred))


def _balanced_accuracy(y_true: Array, y_pred: Array) -> float:
    from sklearn import metrics as skm

    # scikit-learn's definition (mean recall over the classes in the truth), asked for by its
    # labels: balanced_accuracy_score warns whenever a class is predicted but absent
    return float(skm.recall_score(y_true, y_pred, labels=np.unique(y_true), average="macro",
                                  zero_division=0.0))


def _f1(y_true: Array, y_pred: Array, average: Literal["binary", "macro", "weighted"]) -> float:
    from sklearn import metrics as skm

    if average == "binary":  # the F1 of classes[1], whichever classes occur
        return float(skm.f1_score(y_true == 1, y_pred == 1, zero_division=0.0))
    present = np.union1d(y_true, y_pred)
    return float(skm.f1_score(y_true, y_pred, labels=present, average=average,
                              zero_division=0.0))


def _class_counts(y_true: Array, y_pred: Array) -> tuple[Array, Array, Array]:
    """Rows per class that are rightly predicted, true, and predicted."""
    k = int(max(y_true.max(), y_pred.max())) + 1
    return (np.bincount(y_true[y_true == y_pred], minlength=k),
            np.bincount(y_true, minlength=k), np.bincount(y_pred, minlength=k))


def _balanced_accuracy_fast(y_true: Array, y_pred: Array) -> float:
    right, true, _ = _class_counts(y_true, y_pred)
    present = true > 0
    return float(np.mean(right[present] / true[present]))


def _f1_fast(y_true: Array, y_pred: Array, average: Literal["binary", "macro", "weighted"]
             ) -> float:
    right, true, predicted = _class_counts(y_true, y_pred)
    rows = true + predicted
    f1 = np.divide(2.0 * right, rows, out=np.zeros(len(rows)), where=rows > 0)
    if average == "binary":
        return float(f1[1]) if len(f1) > 1 else 0.0
    if average == "macro":
        return float(np.mean(f1[rows > 0]))
    return float(np.sum(f1 * true) / np.sum(true))


# ---- probabilities --------------------------------------------------------------------------
def _normalised(proba: Array) -> Array:
    floored = np.maximum(proba, _EPS)
    return np.asarray(floored / floored.sum(axis=1, keepdims=True))


def _log_loss(y_true: Array, proba: Array) -> float:
    from sklearn import metrics as skm

    return float(skm.log_loss(y_true, _normalised(proba), labels=np.arange(proba.shape[1])))


def _log_loss_fast(y_true: Array, proba: Array) -> float:
    picked = _normalised(proba)[np.arange(len(y_true)), y_true]
    return float(-np.mean(np.log(np.clip(picked, _EPS, 1.0 - _EPS))))


# ---- regression -----------------------------------------------------------------------------
def _r2(y_true: Array, y_pred: Array) -> float:
    from sklearn import metrics as skm

    return float(skm.r2_score(y_true, y_pred)) if len(y_true) >= 2 else math.nan


def _r2_fast(y_true: Array, y_pred: Array) -> float:
    if len(y_true) < 2:
        return math.nan
    total = float(np.sum((y_true - y_true.mean()) ** 2))
    residual = float(np.sum((y_true - y_pred) ** 2))
    if total == 0.0:  # scikit-learn's force_finite
        return 1.0 if residual == 0.0 else 0.0
    return 1.0 - residual / total


def _rmse(y_true: Array, y_pred: Array) -> float:
    from sklearn import metrics as skm

    return float(skm.root_mean_squared_error(y_true, y_pred))


def _rmse_fast(y_true: Array, y_pred: Array) -> float:
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def _mae(y_true: Array, y_pred: Array) -> float:
    from sklearn import metrics as skm

    return float(skm.mean_absolute_error(y_true, y_pred))


def _mae_fast(y_true: Array, y_pred: Array) -> float:
    return float(np.mean(np.abs(y_true - y_pred)))


def _mape(y_true: Array, y_pred: Array) -> float:
    from sklearn import metrics as skm

    nonzero = y_true != 0
    if not nonzero.any():
        return math.nan
    return float(skm.mean_absolute_percentage_error(y_true[nonzero], y_pred[nonzero]))


def _mape_fast(y_true: Array, y_pred: Array) -> float:
    nonzero = y_true != 0
    if not nonzero.any():
        return math.nan
    return float(np.mean(np.abs((y_true[nonzero] - y_pred[nonzero]) / y_true[nonzero])))


# ---- the registry ---------------------------------------------------------------------------
Reads = Literal["probabilities", "labels", "numbers"]


@dataclass(frozen=True)
class Metric:
    """A metric by name: the kinds of task it applies to, which way is better, what it reads
    (class probabilities, predicted labels, or predicted numbers), its implementation on
    ``sklearn.metrics`` and a hand-written ``fast`` twin that agrees with it to 1e-9."""

    name: str
    kinds: frozenset[TaskKind]
    higher_is_better: bool
    reads: Reads
    perfect: float  # the best score possible: 1.0 for accuracy, 0.0 for an error
    implementation: Score
    fast: Score
    chance: float | None = None  # a trivial model's score whatever the data (AUC 0.5, R² 0)

    def compute(self, y_true: Array, output: Array) -> float:
        """The metric as the evaluation reports it; NaN where it is undefined."""
        return self._apply(self.implementation, y_true, output)

    def compute_fast(self, y_true: Array, output: Array) -> float:
        """The same value by the fast twin: for the search's inner loop."""
        return self._apply(self.fast, y_true, output)

    def better(self, a: float, b: float) -> bool:
        """Whether score ``a`` is strictly better than ``b``."""
        return a > b if self.higher_is_better else a < b

    def _apply(self, function: Score, y_true: Array, output: Array) -> float:
        output = np.asarray(output, dtype=np.float64)
        if len(y_true) == 0 or not np.isfinite(output).all():
            return math.nan
        if self.reads == "numbers":
            return function(np.asarray(y_true, dtype=np.float64), output)
        codes = np.asarray(y_true).astype(np.int64)
        return function(codes, output.argmax(axis=1) if self.reads == "labels" else output)


_CLASSIFICATION = frozenset({TaskKind.BINARY, TaskKind.MULTICLASS})
_BINARY = frozenset({TaskKind.BINARY})
_REGRESSION = frozenset({TaskKind.REGRESSION})

# Why every metric has a fast twin: greedy ensemble selection scores 620 blends per search
# (20 kept candidates x 30 rounds, plus the singles), and scikit-learn's input checks cost
# ~1 to 5 ms a call whatever the metric. Seconds for those 620 scores at 800 rows (credit-g's
# training split), sklearn / twin, medians of 3 runs on a shared 2-core machine
# (benchmarks/security/bench_metrics.py): roc_auc 2.5 / 0.2, pr_auc 2.1 / 0.07, accuracy
# 1.0 / 0.01, balanced_accuracy 1.7 / 0.03, f1 2.6 / 0.02, f1_macro 3.1 / 0.02, f1_weighted
# 3.2 / 0.03, log_loss 2.9 / 0.04, r2 0.65 / 0.01, rmse 0.56 / 0.01, mae 0.50 / 0.01, mape
# 0.54 / 0.01: even the cheapest would be 2.5 % of a 20 s budget, every search.
METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("roc_auc", _CLASSIFICATION, True, "probabilities", 1.0,
           _one_vs_rest(binary_roc_auc), _one_vs_rest(_binary_roc_auc_fast), chance=0.5),
    Metric("pr_auc", _CLASSIFICATION, True, "probabilities", 1.0,
           _one_vs_rest(binary_average_precision),
           _one_vs_rest(_binary_average_precision_fast)),
    Metric("accuracy", _CLASSIFICATION, True, "labels", 1.0, _accuracy, _accuracy_fast),
    Metric("balanced_accuracy", _CLASSIFICATION, True, "labels", 1.0, _balanced_accuracy,
           _balanced_accuracy_fast),
    Metric("f1", _BINARY, True, "labels", 1.0, lambda y, p: _f1(y, p, "binary"),
           lambda y, p: _f1_fast(y, p, "binary")),
    Metric("f1_macro", _CLASSIFICATION, True, "labels", 1.0, lambda y, p: _f1(y, p, "macro"),
           lambda y, p: _f1_fast(y, p, "macro")),
    Metric("f1_weighted", _CLASSIFICATION, True, "labels", 1.0,
           lambda y, p: _f1(y, p, "weighted"), lambda y, p: _f1_fast(y, p, "weighted")),
    Metric("log_loss", _CLASSIFICATION, False, "probabilities", 0.0, _log_loss, _log_loss_fast),
    Metric("r2", _REGRESSION, True, "numbers", 1.0, _r2, _r2_fast, chance=0.0),
    Metric("rmse", _REGRESSION, False, "numbers", 0.0, _rmse, _rmse_fast),
    Metric("mae", _REGRESSION, False, "numbers", 0.0, _mae, _mae_fast),
    Metric("mape", _REGRESSION, False, "numbers", 0.0, _mape, _mape_fast),
]}

# the metric each task optimises unless the user names another (--metric)
DEFAULT_METRIC: dict[TaskKind, str] = {
    TaskKind.BINARY: "roc_auc",
    TaskKind.MULTICLASS: "balanced_accuracy",
    TaskKind.REGRESSION: "r2",
}

# metrics where a smaller value is better; every other metric is maximised
LOWER_IS_BETTER = frozenset(name for name, m in METRICS.items() if not m.higher_is_better)


def metric_names(kind: TaskKind) -> list[str]:
    """The metrics that apply to a task kind, in the order the report shows them."""
    return [name for name, m in METRICS.items() if kind in m.kinds]


def get_metric(name: str, kind: TaskKind) -> Metric:
    """The metric called ``name``; raises UnknownMetric, listing the metrics that apply, when
    it does not fit the task kind."""
    metric = METRICS.get(name)
    if metric is None or kind not in metric.kinds:
        raise UnknownMetric(name, kind.value, metric_names(kind))
    return metric


def score(name: str, kind: TaskKind, y_true: Array, output: Array) -> float:
    """The named metric of ``output`` against ``y_true`` (codes or numbers); NaN if undefined."""
    return get_metric(name, kind).compute(y_true, output)
