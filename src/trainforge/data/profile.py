"""Profile a table before training: kinds, gaps, outliers, duplicates, balance and leaks.

    >>> from trainforge.data.read import read_table
    >>> report = profile(read_table("examples/concrete.csv"), target="compressive_strength")
    >>> report.n_rows, report.n_columns, report.leaks
    (1030, 9, [])
    >>> print(*report.warnings, sep="\\n")
    25 rows (2.4%) repeat an earlier row exactly

Every check is cheap (one pass per column; the personal-data scan reads at most 2,000 values
of each), so profiling 50k rows × 15 columns takes well under a second. A column holding
personal data (``privacy``) shows its frequent values masked, never as they are.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from trainforge.data.dataset import ColumnKind, Dataset
from trainforge.data.privacy import ColumnPrivacy, masked_top_value, scan_column
from trainforge.data.targets import infer_task, label_text
from trainforge.data.task import Task, TaskKind
from trainforge.errors import DataError

if TYPE_CHECKING:
    from rich.table import Table

HIGH_MISSING_SHARE = 0.5
HIGH_CARDINALITY = 100  # categories with more distinct values than this (or than half the rows)
IMBALANCED_RATIO = 0.2  # a class under this fraction of an even share (10% of 2) is called out
LEAK_PURITY = 0.99  # a column whose values each go with one class in this share of rows…
LEAK_ERRORS_REMOVED = 0.9  # …and that removes this share of the majority guess's errors, leaks
LEAK_AUC = 0.99  # a number that alone ranks a binary target this well leaks
LEAK_CORRELATION = 0.98  # |Pearson r| with a regression target above this leaks
MIN_ROWS_FOR_LEAKS = 20
TOP_VALUES = 5


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    kind: ColumnKind
    dtype: str
    missing_share: float
    n_distinct: int
    constant: bool
    outlier_share: float | None  # numeric columns: share outside 1.5 IQR of the quartiles
    high_cardinality: bool
    top_values: list[tuple[str, int]]  # masked when the column holds personal data
    privacy: ColumnPrivacy | None = None  # the personal data it holds, if any

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind.value, "dtype": self.dtype,
                "missing_share": self.missing_share, "n_distinct": self.n_distinct,
                "constant": self.constant, "outlier_share": self.outlier_share,
                "high_cardinality": self.high_cardinality,
                "top_values": [[value, count] for value, count in self.top_values],
                "privacy": None if self.privacy is None else self.privacy.to_dict()}


@dataclass(frozen=True)
class Leak:
    """A column that predicts the target almost perfectly on its own."""

    column: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"column": self.column, "reason": self.reason}


@dataclass(frozen=True)
class Profile:
    source: str
    n_rows: int
    n_columns: int
    columns: list[ColumnProfile]
    n_duplicate_rows: int
    target: str | None = None
    task: Task | None = None
    class_balance: dict[str, float] = field(default_factory=dict)  # class → share of rows
    leaks: list[Leak] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def column(self, name: str) -> ColumnProfile:
        return next(c for c in self.columns if c.name == name)

    @property
    def privacy(self) -> dict[str, ColumnPrivacy]:
        """The columns holding personal data, in table order."""
        return {c.name: c.privacy for c in self.columns if c.privacy is not None}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (NaN becomes None)."""
        raw: dict[str, Any] = {
            "source": self.source, "n_rows": self.n_rows, "n_columns": self.n_columns,
            "n_duplicate_rows": self.n_duplicate_rows, "target": self.target,
            "task": None if self.task is None else {
                "kind": self.task.kind.value, "metric": self.task.metric,
                "classes": list(self.task.classes)},
            "class_balance": self.class_balance, "leaks": [leak.to_dict() for leak in self.leaks],
            "warnings": self.warnings, "columns": [c.to_dict() for c in self.columns]}
        return {key: _json_safe(value) for key, value in raw.items()}

    def save_json(self, path: str | Path, *,
                  label_issues: Mapping[str, Any] | None = None) -> None:
        """Write the profile as JSON; ``label_issues``: the rows a training run found
        likely mislabelled (``jobs.label_issues``), a section of their own."""
        raw = self.to_dict()
        if label_issues is not None:
            raw["label_issues"] = _json_safe(dict(label_issues))
        Path(path).write_text(json.dumps(raw, indent=2, ensure_ascii=False) + "\n",
                              encoding="utf-8")

    def table(self) -> Table:
        """A rich table with one row per column, for the terminal."""
        from rich.table import Table

        table = Table(title=f"{self.source}: {self.n_rows:,} rows × {self.n_columns} columns")
        for heading in ("column", "kind", "dtype", "missing", "distinct", "outliers",
                        "top values", "notes"):
            table.add_column(heading, overflow="fold")
        leaking = {leak.column for leak in self.leaks}
        for c in self.columns:
            notes = [label for label, on in (
                ("target", c.name == self.target), ("leaks target", c.name in leaking),
                ("constant", c.constant), ("high cardinality", c.high_cardinality)) if on]
            if c.privacy is not None:
                notes += [f"personal data: {f.kind.value}{' in text' if f.in_text else ''} "
                          f"({f.confidence:.2f})" for f in c.privacy.found]
            table.add_row(
                c.name, c.kind.value, c.dtype, f"{c.missing_share:.1%}", f"{c.n_distinct:,}",
                "" if c.outlier_share is None else f"{c.outlier_share:.1%}",
                ", ".join(f"{v[:20]} ({n:,})" for v, n in c.top_values[:3]), ", ".join(notes))
        return table


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    return value


def _numbers(column: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(
            column.dtype):
        return column.astype("float64")
    return pd.to_numeric(column, errors="coerce").astype("float64")


def _outlier_share(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return None
    q1, q3 = np.percentile(values, [25, 75])
    reach = 1.5 * (q3 - q1)
    return float(((values < q1 - reach) | (values > q3 + reach)).mean())


def _column_profile(name: str, kind: ColumnKind, column: pd.Series) -> ColumnProfile:
    n_rows = len(column)
    try:
        counts = column.value_counts(dropna=True)
    except TypeError:  # unhashable cells (nested JSON): count their text instead
        counts = column.dropna().astype("str").value_counts()
    n_distinct = len(counts)
    outliers = _outlier_share(_numbers(column).to_numpy()) if kind is ColumnKind.NUMERIC else None
    high = kind in (ColumnKind.CATEGORICAL, ColumnKind.ID) and (
        n_distinct > HIGH_CARDINALITY or n_distinct > 0.5 * n_rows) and n_rows >= 20
    privacy = scan_column(name, kind, column)
    top = [(str(v), int(n)) for v, n in counts.head(TOP_VALUES).items()]
    if privacy is not None:
        top = [(masked_top_value(privacy, value), n) for value, n in top]
    return ColumnProfile(
        name=name, kind=kind, dtype=str(column.dtype),
        missing_share=float(column.isna().mean()) if n_rows else 0.0, n_distinct=n_distinct,
        constant=n_distinct <= 1, outlier_share=outliers, high_cardinality=high,
        top_values=top, privacy=privacy)


def _duplicate_rows(frame: pd.DataFrame) -> int:
    try:
        return int(frame.duplicated().sum())
    except TypeError:  # unhashable cells
        return int(frame.astype("str").duplicated().sum())


def _purity(feature: pd.Series, labels: pd.Series) -> float:
    """Share of rows whose class is the most common class of their feature value."""
    pairs = pd.DataFrame({"x": feature.astype("str"), "y": labels}).dropna()
    if pairs.empty:
        return 0.0
    counts = pairs.groupby(["x", "y"], observed=True).size()
    return float(counts.groupby(level=0).max().sum() / len(pairs))


def _auc(scores: np.ndarray, positive: np.ndarray) -> float:
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return 0.5
    ranks = pd.Series(scores).rank().to_numpy()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _class_leak(name: str, kind: ColumnKind, column: pd.Series, labels: pd.Series,
                task: Task) -> Leak | None:
    present = column.notna() & labels.notna()
    n_distinct = int(column[present].nunique())
    if kind in (ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN, ColumnKind.NUMERIC) and \
            n_distinct <= int(present.sum()) / 5:  # values repeat: purity is meaningful
        purity = _purity(column[present], labels[present])
        majority = float(labels[present].value_counts(normalize=True).max())
        removed = (purity - majority) / (1.0 - majority) if majority < 1.0 else 0.0
        if purity >= LEAK_PURITY and removed >= LEAK_ERRORS_REMOVED:
            return Leak(name, f"each value goes with one class in {purity:.1%} of rows")
    if kind is ColumnKind.NUMERIC and task.kind is TaskKind.BINARY:
        numbers = _numbers(column[present]).to_numpy()
        finite = np.isfinite(numbers)
        positive = (labels[present] == task.classes[1]).to_numpy()[finite]
        auc = _auc(numbers[finite], positive)
        if max(auc, 1 - auc) >= LEAK_AUC:
            return Leak(name, f"alone it separates the classes (ROC AUC {max(auc, 1 - auc):.3f})")
    return None


def _number_leak(name: str, column: pd.Series, target: pd.Series) -> Leak | None:
    pairs = pd.DataFrame({"x": _numbers(column), "y": target}).replace(
        [np.inf, -np.inf], np.nan).dropna()
    if len(pairs) < MIN_ROWS_FOR_LEAKS or pairs["x"].std() == 0 or pairs["y"].std() == 0:
        return None
    r = float(np.corrcoef(pairs["x"], pairs["y"])[0, 1])
    return Leak(name, f"correlation {r:+.3f} with the target") if abs(r) > LEAK_CORRELATION \
        else None


def _leaks(dataset: Dataset, task: Task) -> list[Leak]:
    frame = dataset.frame
    if len(frame) < MIN_ROWS_FOR_LEAKS:
        return []
    found: list[Leak | None] = []
    if task.kind.is_classification:
        labels = label_text(frame, task.target)
        for name, kind in dataset.schema.items():
            if name != task.target and kind is not ColumnKind.ID:
                found.append(_class_leak(name, kind, frame[name], labels, task))
    else:
        target = _numbers(frame[task.target])
        for name, kind in dataset.schema.items():
            if name != task.target and kind is ColumnKind.NUMERIC:
                found.append(_number_leak(name, frame[name], target))
    return [leak for leak in found if leak is not None]


def _column_warnings(columns: list[ColumnProfile], target: str | None) -> list[str]:
    warnings = []
    for c in columns:
        if c.privacy is not None:  # the target too: a model that outputs personal data
            warnings.append(f"{c.privacy.describe()}: check it may be used, or train with "
                            "--pii drop, hash or mask")
        if c.name == target:
            continue
        if c.n_distinct == 0:
            warnings.append(f"column {c.name!r} is empty; it is not used as a feature")
        elif c.constant:
            warnings.append(f"column {c.name!r} has a single value; it is not used as a feature")
        elif c.missing_share > HIGH_MISSING_SHARE:
            warnings.append(f"column {c.name!r} is {c.missing_share:.0%} missing")
        if c.kind is ColumnKind.ID:
            warnings.append(f"column {c.name!r} looks like an id (unique per row); it is not "
                            "used as a feature")
        elif c.high_cardinality:
            warnings.append(f"column {c.name!r} has {c.n_distinct:,} distinct values (high "
                            "cardinality): check it is a category and not free text or an id")
    return warnings


def _class_warnings(balance: dict[str, float], counts: dict[str, int], target: str
                    ) -> list[str]:
    warnings = []
    rare = [label for label, n in counts.items() if n < 2]
    if rare:
        warnings.append(f"class(es) {', '.join(map(repr, rare[:5]))} of {target!r} have a "
                        "single row: merge them into similar classes or drop them")
    even = 1.0 / max(len(balance), 1)
    small = [(label, share) for label, share in balance.items()
             if share < IMBALANCED_RATIO * even]
    if small and not rare:
        shown = ", ".join(f"{label!r} {share:.1%}" for label, share in small[:5])
        warnings.append(f"the target {target!r} is imbalanced: {shown} of rows")
    return warnings


def profile(dataset: Dataset, *, target: str | None = None) -> Profile:
    """Describe each column and, with ``target``, its balance and the columns that leak it.

    A target that cannot be learned (missing, constant…) does not fail the profile: the
    problem becomes a warning, since showing it is the profile's job.
    """
    frame = dataset.frame
    columns = [_column_profile(name, dataset.schema.get(name, ColumnKind.CATEGORICAL),
                               frame[name]) for name in dataset.columns]
    n_duplicates = _duplicate_rows(frame)
    warnings = _column_warnings(columns, target)
    if n_duplicates:
        warnings.append(f"{n_duplicates:,} rows ({n_duplicates / len(frame):.1%}) repeat an "
                        "earlier row exactly")
    task, balance, leaks = None, {}, []
    if target is not None:
        try:
            task = infer_task(dataset, target)
        except DataError as error:
            warnings.append(str(error))
    if task is not None:
        missing_share = float(frame[task.target].isna().mean())
        if missing_share > 0:
            warnings.append(f"the target {task.target!r} is missing in {missing_share:.1%} of "
                            "rows; those rows are dropped for training")
        if task.kind.is_classification:
            counts = label_text(frame, task.target).value_counts()
            balance = {str(k): float(v / counts.sum()) for k, v in counts.sort_index().items()}
            warnings += _class_warnings(balance, {str(k): int(v) for k, v in counts.items()},
                                        task.target)
        leaks = _leaks(dataset, task)
        warnings += [f"column {leak.column!r} predicts the target {task.target!r} almost "
                     f"perfectly ({leak.reason}): it probably leaks the answer; drop it unless "
                     "it is known when predicting" for leak in leaks]
    return Profile(source=dataset.source, n_rows=len(frame), n_columns=frame.shape[1],
                   columns=columns, n_duplicate_rows=n_duplicates, target=target, task=task,
                   class_balance=balance, leaks=leaks, warnings=warnings)
