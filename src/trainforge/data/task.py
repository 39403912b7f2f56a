"""The Task: what to predict, what kind of problem it is, and which metric decides."""

from __future__ import annotations

from dataclasses import dataclass
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


# the metric each task optimises unless the user names another (--metric)
DEFAULT_METRIC = {
    TaskKind.BINARY: "roc_auc",
    TaskKind.MULTICLASS: "balanced_accuracy",
    TaskKind.REGRESSION: "r2",
}


# metrics where a smaller value is better; every other metric is maximised
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae", "mape"})


@dataclass(frozen=True)
class Task:
    """``classes`` holds the class labels as strings, sorted, for classification; else ()."""

    target: str
    kind: TaskKind
    metric: str
    classes: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind.is_classification:
            shown = ", ".join(self.classes[:6]) + (", …" if len(self.classes) > 6 else "")
            return (f"{self.kind.value} classification of {self.target!r} "
                    f"({len(self.classes)} classes: {shown}); optimising {self.metric}")
        if self.kind is TaskKind.REGRESSION:
            return f"regression of {self.target!r}; optimising {self.metric}"
        return {TaskKind.CLUSTERING: "clustering: a segment per row",
                TaskKind.ANOMALY: "anomaly detection: a score per row",
                TaskKind.REINFORCEMENT: "reinforcement learning: an action per observation",
                }[self.kind] + f" (judged by {self.metric})"


# every metric a task of each kind can optimise (--metric); the first is not the default
METRICS = {
    TaskKind.BINARY: ("roc_auc", "accuracy", "balanced_accuracy", "f1", "log_loss", "pr_auc"),
    TaskKind.MULTICLASS: ("balanced_accuracy", "accuracy", "f1_macro", "log_loss"),
    TaskKind.REGRESSION: ("r2", "rmse", "mae", "mape"),
}


def choose_metric(kind: TaskKind, metric: str | None = None) -> str:
    """The metric to optimise: the user's when it applies to ``kind``, else the default.

    Raises UnknownMetric listing the metrics that apply.
    """
    from trainforge.errors import UnknownMetric

    if metric is None:
        return DEFAULT_METRIC[kind]
    if metric not in METRICS[kind]:
        raise UnknownMetric(metric, kind.value, METRICS[kind])
    return metric
