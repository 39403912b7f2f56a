"""The Task: what to predict, what kind of problem it is, and which metric decides."""

from __future__ import annotations

from dataclasses import dataclass

from trainforge.data.metrics import DEFAULT_METRIC, LOWER_IS_BETTER, get_metric
from trainforge.data.task_kind import SUPERVISED_KINDS, TaskKind

# the kinds, the default metric and the direction are the registry's, named here too because
# a Task is where callers look for them
__all__ = ["DEFAULT_METRIC", "LOWER_IS_BETTER", "SUPERVISED_KINDS", "Task", "TaskKind",
           "choose_metric"]


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


def choose_metric(kind: TaskKind, metric: str | None = None) -> str:
    """The metric to optimise: the user's when it applies to ``kind``, else the default.

    Raises UnknownMetric listing the metrics that apply.
    """
    if metric is None:
        return DEFAULT_METRIC[kind]
    return get_metric(metric, kind).name
