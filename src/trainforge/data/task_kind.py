"""The kinds of problem trainforge learns; a module of its own so that the Task
(``task.py``) and the metric registry (``metrics.py``) can both import it."""

from __future__ import annotations

from enum import StrEnum


class TaskKind(StrEnum):
    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"
    CLUSTERING = "clustering"  # no target: a segment per row
    ANOMALY = "anomaly"  # no target: an anomaly score per row
    REINFORCEMENT = "reinforcement"  # no table: an observation in, an action out

    @property
    def is_classification(self) -> bool:
        return self in (TaskKind.BINARY, TaskKind.MULTICLASS)

    @property
    def is_supervised(self) -> bool:
        """Learned from a target column: binary, multiclass or regression."""
        return self in (TaskKind.BINARY, TaskKind.MULTICLASS, TaskKind.REGRESSION)


# the kinds learned from a target column: what the supervised catalog entries learn
SUPERVISED_KINDS = frozenset({TaskKind.BINARY, TaskKind.MULTICLASS, TaskKind.REGRESSION})
