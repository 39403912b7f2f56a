"""Evaluate a fitted model on a table: every metric of its task, per class, and the confusion.

    evaluation = evaluate(model, test_frame)
    print(evaluation)                 # a short table of the headline metrics
    evaluation.metrics["roc_auc"]     # a metric that could not be computed is absent, see .notes
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trainforge.algorithms.model import TabularModel
from trainforge.data.metrics import METRICS, metric_names
from trainforge.data.task import Task
from trainforge.evaluation import metrics as m
from trainforge.evaluation.truth import truth_of


@dataclass(frozen=True, eq=False)
class Evaluation:
    """The metrics of one model on one table, and what the plots need.

    ``y_true``: class codes 0..k-1 (classification) or numbers; ``proba``: (n, k) probabilities
    (classification only); ``predictions``: predicted codes or numbers. ``metrics`` holds only
    the metrics that could be computed; ``notes`` says what was left out and why.
    """

    task: Task
    metrics: dict[str, float]
    y_true: np.ndarray
    predictions: np.ndarray
    proba: np.ndarray | None = None
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    confusion: np.ndarray | None = None  # row = true class, column = predicted, Task.classes order
    notes: list[str] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return len(self.y_true)

    @property
    def score(self) -> float | None:
        """The task's own metric (the one selection optimised), or None if it is undefined here."""
        return self.metrics.get(self.task.metric)

    def to_dict(self) -> dict[str, Any]:
        """Metrics, per-class metrics, confusion matrix and notes, as plain JSON values."""
        out: dict[str, Any] = {
            "task": {"target": self.task.target, "kind": self.task.kind.value,
                     "metric": self.task.metric, "classes": list(self.task.classes)},
            "n_rows": self.n_rows,
            "metrics": dict(self.metrics),
            "per_class": {label: dict(values) for label, values in self.per_class.items()},
            "confusion": None,
            "notes": list(self.notes),
        }
        if self.confusion is not None:
            out["confusion"] = {"labels": list(self.task.classes),
                                "counts": self.confusion.astype(int).tolist()}
        return out

    def __str__(self) -> str:
        lines = [f"Evaluation on {self.n_rows:,} rows: {self.task.describe()}"]
        width = max([len(name) for name in self.metrics] + [6])
        for name, value in self.metrics.items():
            mark = "  <- optimised" if name == self.task.metric else ""
            lines.append(f"  {name:<{width}}  {value:>10.4f}{mark}")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def _headline_order(task: Task) -> list[str]:
    names = metric_names(task.kind)
    return [task.metric, *(n for n in names if n != task.metric)] if task.metric in names else names


def _classification(task: Task, y_true: np.ndarray, proba: np.ndarray,
                    notes: list[str]) -> Evaluation:
    k = len(task.classes)
    y_pred = proba.argmax(axis=1)
    present = m.labels_present(y_true, task.classes)
    values: dict[str, float] = {}
    for name in _headline_order(task):
        values[name] = METRICS[name].compute(y_true, proba)
    if len(present) < 2:
        notes.append(f"roc_auc and pr_auc omitted: the rows hold only the class {present[0]!r}, "
                     "so no ranking can be scored; evaluate on rows of both classes")
    elif len(present) < k:
        absent = [c for c in task.classes if c not in present]
        notes.append(f"roc_auc and pr_auc average over the {len(present)} classes present; "
                     f"absent from these rows: {', '.join(map(repr, absent[:5]))}")
    precision, recall, f1, support = m.precision_recall_f1(y_true, y_pred, n_classes=k)
    per_class = {label: {"precision": float(precision[c]), "recall": float(recall[c]),
                         "f1": float(f1[c]), "support": int(support[c])}
                 for c, label in enumerate(task.classes)}
    return Evaluation(task=task, metrics=_defined(values, notes), y_true=y_true,
                      predictions=y_pred, proba=proba, per_class=per_class,
                      confusion=m.confusion_counts(y_true, y_pred, n_classes=k), notes=notes)


def _regression(task: Task, y_true: np.ndarray, predicted: np.ndarray,
                notes: list[str]) -> Evaluation:
    values = {name: METRICS[name].compute(y_true, predicted) for name in _headline_order(task)}
    zeros = int((y_true == 0).sum())
    if zeros and zeros < len(y_true):
        notes.append(f"mape skips the {zeros} rows whose true value is 0 (a percentage of 0 is "
                     "undefined)")
    if len(y_true) >= 2 and np.all(y_true == y_true[0]):
        notes.append("r2 is 1 only when every prediction is exact, else 0 (scikit-learn's "
                     "convention): the true values are all the same, so there is no variance "
                     "to explain")
    if math.isnan(values.get("mape", 0.0)):
        notes.append("mape omitted: every true value is 0")
    return Evaluation(task=task, metrics=_defined(values, notes), y_true=y_true,
                      predictions=predicted, notes=notes)


def _defined(values: dict[str, float], notes: list[str]) -> dict[str, float]:
    """The defined metrics; a note for each undefined one that no note explains yet."""
    undefined = [n for n, v in values.items() if math.isnan(v)]
    mentioned = " ".join(notes)
    for name in undefined:
        if name not in mentioned:
            notes.append(f"{name} omitted: it is undefined on these rows")
    return {n: v for n, v in values.items() if not math.isnan(v)}


def evaluate_predictions(task: Task, y_true: np.ndarray, output: np.ndarray,
                         *, notes: list[str] | None = None) -> Evaluation:
    """Score ``output`` (probabilities (n, k) for classification, numbers for regression)
    against ``y_true`` (class codes 0..k-1, or numbers). Use it for out-of-fold predictions."""
    y_true, output = np.asarray(y_true), np.asarray(output, dtype="float64")
    if task.kind.is_classification:
        return _classification(task, y_true.astype("int64"), output, list(notes or []))
    return _regression(task, y_true.astype("float64"), output, list(notes or []))


def evaluate(model: TabularModel, frame: pd.DataFrame, *,
             source: str = "the evaluation table") -> Evaluation:
    """Every metric of ``model``'s task on ``frame``, which holds the target column.

    Rows without a target (or with a class the model never saw) are left out with a note.
    """
    truth = truth_of(frame, model.task, source=source)
    rows = frame.iloc[np.flatnonzero(truth.kept)]
    if model.task.kind.is_classification:
        output = model.predict_proba(rows)
    else:
        output = np.asarray(model.predict(rows), dtype="float64")
    return evaluate_predictions(model.task, truth.values, output, notes=truth.notes)
