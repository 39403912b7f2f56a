"""What the evaluation adds to the metric registry: per-class counts, the confusion matrix,
and the score of a trivial model, the floor a real model must beat.

The named metrics (``--metric``), their directions and their edge cases live in the registry,
``trainforge.data.metrics``, which the search reads too. Truth is class codes 0..k-1 or numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn import metrics as skm

from trainforge.data.metrics import score
from trainforge.data.task import TaskKind

Array = np.ndarray


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
