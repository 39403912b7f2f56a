"""The true target values of an evaluation table, in the form the metrics take."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from trainforge.data.task import Task
from trainforge.errors import ColumnNotFound, EmptyData


@dataclass(frozen=True)
class Truth:
    """``values``: class codes 0..k-1 (classification) or floats (regression), one per kept row.

    ``kept`` marks the rows of the table that have a usable target; ``notes`` says why others
    were left out.
    """

    values: np.ndarray
    kept: np.ndarray
    notes: list[str] = field(default_factory=list)


def _label_text(value: object) -> str:
    # a label read back as 1.0 (a float column with gaps) is the class "1" the model learned
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _class_truth(column: pd.Series, task: Task) -> Truth:
    index = {label: code for code, label in enumerate(task.classes)}
    present = column.notna().to_numpy()
    labels = [_label_text(v) if ok else "" for v, ok in zip(column.tolist(), present, strict=True)]
    codes = np.array([index.get(label, -1) for label in labels], dtype="int64")
    notes = []
    if not present.all():
        notes.append(f"{int((~present).sum())} rows without a value for {task.target!r} were "
                     "left out")
    unseen = present & (codes < 0)
    if unseen.any():
        shown = sorted({labels[i] for i in np.flatnonzero(unseen)})[:5]
        notes.append(f"{int(unseen.sum())} rows have a class the model never saw in training "
                     f"({', '.join(map(repr, shown))}) and were left out; the model cannot "
                     "predict them, so retrain with rows of these classes")
    kept = present & (codes >= 0)
    return Truth(values=codes[kept], kept=kept, notes=notes)


def _number_truth(column: pd.Series, task: Task) -> Truth:
    numbers = pd.to_numeric(column, errors="coerce").astype("float64").to_numpy()
    kept = np.isfinite(numbers)
    notes = []
    unreadable = int((~kept & column.notna().to_numpy()).sum())
    missing = int((~column.notna()).sum())
    if missing:
        notes.append(f"{missing} rows without a value for {task.target!r} were left out")
    if unreadable:
        notes.append(f"{unreadable} rows whose {task.target!r} is not a number were left out")
    return Truth(values=numbers[kept], kept=kept, notes=notes)


def truth_of(frame: pd.DataFrame, task: Task, *, source: str = "the evaluation table") -> Truth:
    """Read the target column of ``frame`` for ``task``.

    Raises ColumnNotFound when the column is missing, EmptyData when no row has a usable value.
    """
    if task.target not in frame.columns:
        raise ColumnNotFound(task.target, source, [str(c) for c in frame.columns],
                             "that the table to evaluate on has the target column")
    column = frame[task.target]
    truth = _class_truth(column, task) if task.kind.is_classification else _number_truth(column, task)
    if len(truth.values) == 0:
        raise EmptyData(source, f"no row has a usable value in the target column {task.target!r}")
    return truth
