"""What to predict: infer the task from the target column, clean the target, pick features.

    >>> from trainforge.data.read import read_table
    >>> dataset = read_table("examples/adult.csv")
    >>> task = infer_task(dataset, "income")
    >>> task.describe()
    "binary classification of 'income' (2 classes: <=50K, >50K); optimising roc_auc"
    >>> frame, report = clean_target(dataset, task)  # rows without a label dropped, counted
    >>> str(report)
    'all 32,561 rows have a target'
    >>> feature_columns(dataset.schema, "income", frame=frame)[:4]
    ['age', 'workclass', 'fnlwgt', 'education']

Class labels are strings spelled as in the file: ``1`` is ``"1"``, ``yes`` is ``"yes"`` and a
float column written ``0.0``/``1.0`` gives ``"0.0"``/``"1.0"``. An integer column with missing
cells (which pandas must hold as floats) still gives ``"1"``, because ``read_table`` records
that it was written as integers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from trainforge.data.dataset import ColumnKind, Dataset, Schema
from trainforge.data.read import INTEGER_COLUMNS
from trainforge.data.task import Task, TaskKind, choose_metric
from trainforge.errors import ColumnNotFound, NoUsableFeatures, UnusableTarget

MAX_CLASSES_FROM_NUMBERS = 20  # integer targets with more distinct values are regression
MAX_CLASS_SHARE_OF_ROWS = 0.05  # …and so are those with more distinct values than 5% of rows
MIN_SCORE_LEVELS = 5  # from this many consecutive, single-peaked integers: a score, regression


def label_text(frame: pd.DataFrame, column: str) -> pd.Series:
    """The column's values as label strings (missing stays missing), spelled as in the file."""
    values = frame[column]
    if pd.api.types.is_float_dtype(values.dtype) and column in frame.attrs.get(INTEGER_COLUMNS, ()):
        return values.astype("Int64").astype("str")
    if pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
        return values
    text = values.map(lambda v: str(v), na_action="ignore")
    return text.astype("str")


def _is_numeric(dataset: Dataset, target: str) -> bool:
    dtype = dataset.frame[target].dtype
    if pd.api.types.is_bool_dtype(dtype):
        return False
    return pd.api.types.is_numeric_dtype(dtype) or dataset.schema.get(target) is ColumnKind.NUMERIC


def _looks_like_a_score(counts: pd.Series) -> bool:
    """Consecutive integers whose counts rise to one peak and fall: a rating, not class codes.

    Wine quality 3..9 is a score (regression learns its order); satellite classes 1..7 with 6
    absent, or digits 0..9 in roughly equal numbers, are codes.
    """
    levels = counts.sort_index()
    values = levels.index.to_numpy(dtype="float64")
    if len(values) < MIN_SCORE_LEVELS or values[-1] - values[0] + 1 != len(values):
        return False
    steps = np.sign(np.diff(levels.to_numpy(dtype="int64")))
    steps = steps[steps != 0]
    falls = np.flatnonzero(steps < 0)
    return len(falls) == 0 or bool((steps[falls[0]:] < 0).all())


def _kind_of(dataset: Dataset, target: str, n_distinct: int) -> TaskKind:
    if n_distinct == 2:
        return TaskKind.BINARY
    if not _is_numeric(dataset, target):
        return TaskKind.MULTICLASS
    frame = dataset.frame
    numbers = pd.to_numeric(frame[target], errors="coerce").dropna()
    integral = pd.api.types.is_integer_dtype(frame[target].dtype) or (
        target in frame.attrs.get(INTEGER_COLUMNS, ()))
    if dataset.schema.get(target) is ColumnKind.NUMERIC and not pd.api.types.is_numeric_dtype(
            frame[target].dtype):  # numbers written as text: integers if every value is whole
        integral = bool((numbers % 1 == 0).all())
    few = n_distinct <= MAX_CLASSES_FROM_NUMBERS and n_distinct <= max(
        3, MAX_CLASS_SHARE_OF_ROWS * len(numbers))
    if integral and few and not _looks_like_a_score(numbers.value_counts()):
        return TaskKind.MULTICLASS
    return TaskKind.REGRESSION


def infer_task(dataset: Dataset, target: str, *, metric: str | None = None,
               kind: TaskKind | None = None) -> Task:
    """The task for predicting ``target``: its kind, classes and metric.

    Text, booleans and two-valued columns are classification (two values: binary); integers
    with few distinct values (at most 20, and at most 5% of rows) are multiclass unless they
    look like a score (see ``_looks_like_a_score``); other numbers are regression. ``kind``
    overrides the guess.

    Raises ColumnNotFound (listing the columns), UnusableTarget (no values, or one value only)
    and UnknownMetric.
    """
    if target not in dataset.frame.columns:
        raise ColumnNotFound(target, dataset.source, dataset.columns, "--target")
    labels = label_text(dataset.frame, target).dropna()
    distinct = sorted(labels.unique().tolist())
    if not distinct:
        raise UnusableTarget(target, dataset.source, "is empty (every row is missing)",
                             "fill in the labels or choose another --target")
    if len(distinct) == 1:
        raise UnusableTarget(target, dataset.source, f"has one value only ({distinct[0]!r})",
                             "a model needs at least two classes or varying numbers; choose "
                             "another --target")
    chosen = kind or _kind_of(dataset, target, len(distinct))
    if chosen is TaskKind.REGRESSION and not _is_numeric(dataset, target):
        raise UnusableTarget(target, dataset.source, "is not numeric",
                             "regression needs numbers; leave the task kind to be inferred")
    classes = tuple(str(c) for c in distinct) if chosen.is_classification else ()
    return Task(target=target, kind=chosen, metric=choose_metric(chosen, metric), classes=classes)


@dataclass(frozen=True)
class TargetReport:
    """What cleaning the target did: rows dropped (and why) and the rows per class."""

    target: str
    n_rows: int  # rows before cleaning
    n_missing: int  # dropped: no target value
    n_not_number: int  # dropped: a regression target that is not a (finite) number
    class_counts: dict[str, int] = field(default_factory=dict)

    @property
    def n_dropped(self) -> int:
        return self.n_missing + self.n_not_number

    @property
    def n_kept(self) -> int:
        return self.n_rows - self.n_dropped

    @property
    def notes(self) -> list[str]:
        """Plain sentences for the user, empty when nothing was dropped."""
        notes = []
        if self.n_missing:
            notes.append(f"dropped {self.n_missing:,} of {self.n_rows:,} rows whose target "
                         f"{self.target!r} is missing")
        if self.n_not_number:
            notes.append(f"dropped {self.n_not_number:,} of {self.n_rows:,} rows whose target "
                         f"{self.target!r} is not a number")
        return notes

    def __str__(self) -> str:
        return "; ".join(self.notes) or f"all {self.n_rows:,} rows have a target"


def _check_classes(counts: pd.Series, task: Task, source: str) -> None:
    if len(counts) < 2:
        raise UnusableTarget(task.target, source, f"has one class only ({counts.index[0]!r})",
                             "a classifier needs at least two classes; choose another --target")
    single = sorted(str(label) for label, count in counts.items() if count < 2)
    if single:
        shown = ", ".join(repr(s) for s in single[:5])
        raise UnusableTarget(task.target, source, f"has class(es) with a single row: {shown}",
                             "merge each into a similar class or drop its rows, so every class "
                             "has at least 2 rows (one to train on, one to test)")
    unknown = sorted(set(map(str, counts.index)) - set(task.classes)) if task.classes else []
    if unknown:
        raise UnusableTarget(task.target, source, f"has classes the task does not know: "
                             f"{', '.join(map(repr, unknown[:5]))}",
                             f"the task's classes are {', '.join(task.classes[:10])}; "
                             "infer the task from this table")


def clean_target(dataset: Dataset, task: Task) -> tuple[pd.DataFrame, TargetReport]:
    """Drop rows without a target and put the target in the form training takes.

    Classification: the target becomes label strings (as ``infer_task`` spells them).
    Regression: float64; rows that are not finite numbers are dropped and counted.

    Raises ColumnNotFound, and UnusableTarget when no row is left, the target is constant,
    or a class has a single row.
    """
    frame, source = dataset.frame, dataset.source
    if task.target not in frame.columns:
        raise ColumnNotFound(task.target, source, dataset.columns, "--target")
    missing = frame[task.target].isna().to_numpy()
    if task.kind.is_classification:
        values: pd.Series = label_text(frame, task.target)
        unreadable = np.zeros(len(frame), dtype=bool)
    else:
        values = pd.to_numeric(frame[task.target], errors="coerce").astype("float64")
        unreadable = ~np.isfinite(values.to_numpy()) & ~missing
    keep = ~missing & ~unreadable
    if not keep.any():
        raise UnusableTarget(task.target, source, "has no usable value in any row",
                             "fill in the target or choose another --target")
    cleaned = frame.loc[keep].copy()
    cleaned[task.target] = values[keep]
    counts = cleaned[task.target].value_counts()
    if task.kind.is_classification:
        _check_classes(counts, task, source)
    elif len(counts) < 2:
        raise UnusableTarget(task.target, source, f"is constant ({counts.index[0]:g} in every "
                             "row)", "a regression needs a target that varies; choose another "
                             "--target")
    report = TargetReport(
        target=task.target, n_rows=len(frame), n_missing=int(missing.sum()),
        n_not_number=int(unreadable.sum()),
        class_counts={str(k): int(v) for k, v in counts.sort_index().items()}
        if task.kind.is_classification else {})
    return cleaned, report


def _unusable_reason(column: pd.Series) -> str | None:
    present = column.dropna()
    if present.empty:
        return "empty"
    if int(present.nunique()) < 2:
        return "constant"
    return None


def feature_columns(schema: Schema, target: str, *, frame: pd.DataFrame | None = None,
                    source: str = "the table") -> list[str]:
    """The columns a model may learn from, in table order.

    Leaves out the target and id columns; with ``frame``, also columns that are empty or
    constant in it. Raises NoUsableFeatures saying why each column was left out.
    """
    reasons: dict[str, str] = {}
    for name, kind in schema.items():
        if name == target:
            reasons[name] = "the target"
        elif kind is ColumnKind.ID:
            reasons[name] = "an id"
        elif frame is not None and name in frame.columns:
            reason = _unusable_reason(frame[name])
            if reason is not None:
                reasons[name] = reason
    features = [name for name in schema if name not in reasons]
    if not features:
        detail = "; ".join(f"{name!r} is {why}" for name, why in list(reasons.items())[:8])
        raise NoUsableFeatures(source, detail or "the table has no columns")
    return features
