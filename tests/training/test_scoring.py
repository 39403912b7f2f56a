"""The search's scorers agree with scikit-learn's metrics and know which way is better."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from trainforge.data.task import TaskKind
from trainforge.errors import UnknownMetric
from trainforge.training.scoring import scorer_for

RNG = np.random.default_rng(0)
Y3 = RNG.integers(0, 3, 300)
P3 = RNG.dirichlet([1, 1, 1], 300)
Y2 = RNG.integers(0, 2, 300)
P2 = np.column_stack([1 - (s := np.round(RNG.random(300), 2)), s])  # rounded: ties


@pytest.mark.parametrize(("metric", "y", "p", "expected"), [
    ("roc_auc", Y2, P2, metrics.roc_auc_score(Y2, P2[:, 1])),
    ("roc_auc", Y3, P3, metrics.roc_auc_score(Y3, P3, multi_class="ovr")),
    ("balanced_accuracy", Y3, P3, metrics.balanced_accuracy_score(Y3, P3.argmax(1))),
    ("accuracy", Y3, P3, metrics.accuracy_score(Y3, P3.argmax(1))),
    ("log_loss", Y3, P3, metrics.log_loss(Y3, P3)),
])
def test_classification_scores_match_scikit_learn(metric: str, y: np.ndarray, p: np.ndarray,
                                                  expected: float):
    kind = TaskKind.BINARY if p.shape[1] == 2 else TaskKind.MULTICLASS
    assert scorer_for(metric, kind).score(y, p) == pytest.approx(expected, rel=1e-9)


def test_regression_scores_match_scikit_learn():
    y, p = RNG.normal(size=100), RNG.normal(size=100)
    assert scorer_for("r2", TaskKind.REGRESSION).score(y, p) == pytest.approx(
        metrics.r2_score(y, p))
    assert scorer_for("rmse", TaskKind.REGRESSION).score(y, p) == pytest.approx(
        np.sqrt(metrics.mean_squared_error(y, p)))


def test_an_error_metric_ranks_the_smaller_error_higher():
    rmse = scorer_for("rmse", TaskKind.REGRESSION)
    y = np.zeros(4)
    assert rmse.utility(y, np.full(4, 0.1)) > rmse.utility(y, np.full(4, 1.0))


def test_a_metric_that_does_not_fit_the_task_lists_the_ones_that_do():
    with pytest.raises(UnknownMetric, match="r2"):
        scorer_for("roc_auc", TaskKind.REGRESSION)
