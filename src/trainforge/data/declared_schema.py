"""A table's schema declared up front: what every holder of a federation encodes alike.

In a federation no one sees all rows, so the encoding cannot be learned from them: the
coordinator declares each feature's kind, each category's levels (the one-hot vocabulary) and
each number's centre and scale, and every holder builds the same preprocessor from that
declaration (``preprocessor``). A holder's table is checked against it first (``check``): a
missing column or an unknown class is refused, naming it.

Numbers, booleans and categories are declared; datetime and text columns are left out (a
holder-independent text vocabulary is later work) and ``declare_schema`` says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from trainforge.data.dataset import ColumnKind, Schema
from trainforge.data.prepare import TablePreprocessor
from trainforge.data.targets import label_text
from trainforge.data.task import Task, TaskKind
from trainforge.errors import FederationSchemaMismatch

DECLARABLE = (ColumnKind.NUMERIC, ColumnKind.BOOLEAN, ColumnKind.CATEGORICAL)
MAX_LEVELS = 30  # a category's most frequent levels get a column; the others none, as unseen


@dataclass(frozen=True)
class DeclaredColumn:
    """One feature: numbers carry ``center``/``scale``, categories and booleans ``levels``."""

    name: str
    kind: ColumnKind
    nullable: bool  # a missing value is a signal of its own (an indicator column)
    levels: tuple[str, ...] = ()
    center: float = 0.0
    scale: float = 1.0

    def plan(self) -> dict[str, Any]:
        """The preprocessor's step for this column, as ``TablePreprocessor.fit`` writes it."""
        if self.kind is ColumnKind.NUMERIC:
            return {"name": self.name, "op": "number", "fill": [self.center],
                    "center": [self.center], "scale": [self.scale],
                    "indicate": [self.nullable], "width": 1 + int(self.nullable)}
        width = len(self.levels)
        return {"name": self.name, "op": "onehot",
                "codes": {level: code for code, level in enumerate(self.levels)},
                "missing": width if self.nullable else -1, "width": width + int(self.nullable)}


@dataclass(frozen=True)
class DeclaredSchema:
    """The federation's task and features; JSON both ways (``to_dict``/``from_dict``)."""

    task: Task
    columns: tuple[DeclaredColumn, ...]
    target_center: float = 0.0  # regression: the target is learned scaled, and scaled back
    target_scale: float = 1.0

    @property
    def features(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def schema(self) -> Schema:
        """Each feature's kind, as ``data.schema`` spells a schema."""
        return {column.name: column.kind for column in self.columns}

    def preprocessor(self) -> TablePreprocessor:
        """The fitted preprocessor every holder uses: decided by the declaration alone."""
        return TablePreprocessor.from_plan(
            [(column.name, ColumnKind.CATEGORICAL.value if column.kind is ColumnKind.BOOLEAN
              else column.kind.value) for column in self.columns],
            [column.plan() for column in self.columns])

    def check(self, frame: pd.DataFrame, *, source: str) -> None:
        """Refuse a table without the federation's columns or with classes it does not have,
        naming each difference."""
        differences = []
        absent = [name for name in [self.task.target, *self.features] if name not in frame]
        if absent:
            differences.append(f"it lacks column(s) {', '.join(map(repr, absent))}")
        if self.task.kind.is_classification and self.task.target in frame:
            present = set(label_text(frame, self.task.target).dropna().unique().tolist())
            unknown = sorted(present - set(self.task.classes))
            if unknown:
                differences.append(f"column {self.task.target!r} has class(es) "
                                   f"{', '.join(map(repr, unknown[:10]))} the federation does "
                                   f"not (it has: {', '.join(self.task.classes)})")
        if differences:
            raise FederationSchemaMismatch(source, differences)

    def to_dict(self) -> dict[str, Any]:
        return {"task": {"target": self.task.target, "kind": self.task.kind.value,
                         "metric": self.task.metric, "classes": list(self.task.classes)},
                "target_center": self.target_center, "target_scale": self.target_scale,
                "columns": [{"name": c.name, "kind": c.kind.value, "nullable": c.nullable,
                             "levels": list(c.levels), "center": c.center, "scale": c.scale}
                            for c in self.columns]}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DeclaredSchema:
        task = Task(target=raw["task"]["target"], kind=TaskKind(raw["task"]["kind"]),
                    metric=raw["task"]["metric"], classes=tuple(raw["task"]["classes"]))
        columns = tuple(DeclaredColumn(name=c["name"], kind=ColumnKind(c["kind"]),
                                       nullable=bool(c["nullable"]), levels=tuple(c["levels"]),
                                       center=float(c["center"]), scale=float(c["scale"]))
                        for c in raw["columns"])
        return cls(task=task, columns=columns, target_center=float(raw["target_center"]),
                   target_scale=float(raw["target_scale"]))


def declare_schema(frame: pd.DataFrame, task: Task, *, schema: Schema,
                   features: Sequence[str], notes: list[str] | None = None) -> DeclaredSchema:
    """The declaration of ``features`` as ``frame`` shows them (a simulation declares from the
    table it splits). Columns of other kinds are left out, with a line in ``notes``."""
    columns, left_out = [], []
    for name in features:
        kind = ColumnKind(schema[name])
        if kind not in DECLARABLE:
            left_out.append(f"{name} ({kind.value})")
            continue
        columns.append(_declare_column(name, kind, frame[name]))
    if left_out and notes is not None:
        notes.append(f"left out of the federation (it takes numbers, booleans and categories "
                     f"for now): {', '.join(left_out)}")
    center, scale = 0.0, 1.0
    if task.kind is TaskKind.REGRESSION:
        target = pd.to_numeric(frame[task.target], errors="coerce").astype("float64")
        center, scale = float(target.mean()), float(target.std(ddof=0)) or 1.0
    return DeclaredSchema(task=task, columns=tuple(columns), target_center=center,
                          target_scale=scale)


def _declare_column(name: str, kind: ColumnKind, values: pd.Series) -> DeclaredColumn:
    nullable = bool(values.isna().any())
    if kind is ColumnKind.NUMERIC:
        numbers = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
        numbers = numbers[np.isfinite(numbers)]
        center = float(numbers.mean()) if len(numbers) else 0.0
        spread = float(numbers.std()) if len(numbers) else 0.0
        return DeclaredColumn(name=name, kind=kind, nullable=nullable, center=center,
                              scale=spread if spread > 1e-12 else 1.0)
    counts = values.dropna().astype(str).value_counts()
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:MAX_LEVELS]
    return DeclaredColumn(name=name, kind=kind, nullable=nullable,
                          levels=tuple(str(level) for level, _ in ranked))
