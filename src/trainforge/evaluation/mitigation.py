"""--fairness-constraint: Fairlearn's ThresholdOptimizer fitted on the search's out-of-fold
probabilities, kept as per-group thresholds (``algorithms.group_thresholds``).

Post-processing, not a reductions method: it leaves the chosen blend as it is (any algorithm,
networks included, and the refit on all rows), needs no second search, and fits in well under
a second; what it needs at predict time is a few numbers per group. It is fitted on the
out-of-fold predictions of the training rows, never on the test split, which stays the honest
judge of both the score and the disparity.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from fairlearn.postprocessing import ThresholdOptimizer
from sklearn.base import BaseEstimator

from trainforge.algorithms.group_thresholds import GroupRule, GroupThresholds, ThresholdRule

# what each constraint trades against: accuracy, as the benchmark's target counts it
OBJECTIVE = "accuracy_score"


class _Scores(BaseEstimator):  # type: ignore[misc]
    """The out-of-fold scores as an already-fitted "estimator": its input is the score."""

    def __sklearn_is_fitted__(self) -> bool:
        return True  # nothing to learn: the scores are given

    def fit(self, X: np.ndarray, y: np.ndarray) -> _Scores:
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X)[:, 0]


def fit_thresholds(scores: np.ndarray, y_true: np.ndarray, keys: Sequence[str], *,
                   constraint: str, columns: Sequence[str], positive_class: str,
                   tolerance: float | None = None) -> GroupThresholds:
    """Per-group thresholds that satisfy ``constraint`` on these rows.

    ``scores``: the positive class's out-of-fold probability; ``y_true``: 1 for the positive
    class, else 0; ``keys``: each row's group (``group_thresholds.group_keys``);
    ``tolerance``: the largest selection-rate difference demographic parity allows (None:
    exact parity).
    """
    optimizer = ThresholdOptimizer(estimator=_Scores(), constraints=constraint,
                                   objective=OBJECTIVE, prefit=True, predict_method="predict",
                                   tol=tolerance)
    with warnings.catch_warnings():  # a group without positives warns; its rule still holds
        warnings.simplefilter("ignore")
        optimizer.fit(np.asarray(scores, dtype=float).reshape(-1, 1), np.asarray(y_true),
                      sensitive_features=list(keys))
    chosen: dict[Any, Any] = optimizer.interpolated_thresholder_.interpolation_dict
    return GroupThresholds(columns=tuple(columns), constraint=constraint,
                           positive_class=positive_class,
                           rules={str(group): _rule(mix) for group, mix in chosen.items()})


def _rule(mix: Any) -> GroupRule:
    return GroupRule(p0=float(mix.p0), rule0=ThresholdRule(mix.operation0.operator,
                                                           float(mix.operation0.threshold)),
                     p1=float(mix.p1), rule1=ThresholdRule(mix.operation1.operator,
                                                           float(mix.operation1.threshold)),
                     p_ignore=float(mix.get("p_ignore", 0.0)),
                     constant=float(mix.get("prediction_constant", 0.0)))
