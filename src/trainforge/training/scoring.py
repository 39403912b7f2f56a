"""The search's view of a metric: its score, and a utility that is higher-is-better.

The metrics themselves are the registry's (``trainforge.data.metrics``); the search scores
with their fast twins, which agree with what the evaluation reports to 1e-9. Classifier
predictions are probability matrices (n, k) over class codes 0..k-1; regressors' are vectors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from trainforge.data.metrics import get_metric
from trainforge.data.task import TaskKind

Score = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class Scorer:
    """``score`` gives the metric as users read it; ``utility`` the same, higher-is-better."""

    name: str
    greater_is_better: bool
    function: Score

    def score(self, y_true: np.ndarray, predicted: np.ndarray) -> float:
        return float(self.function(y_true, predicted))

    def utility(self, y_true: np.ndarray, predicted: np.ndarray) -> float:
        value = self.score(y_true, predicted)
        if not np.isfinite(value):
            return -np.inf
        return value if self.greater_is_better else -value


def scorer_for(metric: str, kind: TaskKind) -> Scorer:
    """The scorer of ``metric`` for a ``kind`` task; UnknownMetric names the ones that apply."""
    found = get_metric(metric, kind)
    return Scorer(found.name, found.higher_is_better, found.compute_fast)
