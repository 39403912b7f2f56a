"""The metric registry: each metric as scikit-learn defines it, and which way is better."""

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from trainforge.data.metrics import METRICS, score
from trainforge.data.task import TaskKind
from trainforge.errors import UnknownMetric

B, M, R = TaskKind.BINARY, TaskKind.MULTICLASS, TaskKind.REGRESSION
RNG = np.random.default_rng(0)
Y3 = RNG.integers(0, 3, size=300)
P3 = RNG.dirichlet([1.0, 1.0, 1.0], size=300)
P3[np.arange(300), Y3] += 0.5  # an informative but imperfect classifier
P3 /= P3.sum(axis=1, keepdims=True)


def one_hot(codes: list[int], k: int = 2) -> np.ndarray:
    """Probabilities whose most probable class is each code."""
    return np.eye(k)[codes] * 0.8 + 0.2 / k


def test_accuracy_is_the_share_of_right_answers():
    assert score("accuracy", B, np.array([0, 1, 1, 0]), one_hot([0, 1, 0, 0])) == 0.75


def test_balanced_accuracy_weights_a_rare_class_like_a_common_one():
    assert score("balanced_accuracy", B, np.array([0] * 9 + [1]), one_hot([0] * 10)) == 0.5


def test_multiclass_roc_auc_is_the_one_vs_rest_macro_average():
    expected = skm.roc_auc_score(Y3, P3, multi_class="ovr", average="macro")
    assert score("roc_auc", M, Y3, P3) == pytest.approx(expected)


def test_binary_scores_rank_the_second_class_as_positive():
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]])
    assert score("roc_auc", B, y, proba) == pytest.approx(0.75)
    assert score("pr_auc", B, y, proba) == pytest.approx(
        skm.average_precision_score(y, proba[:, 1]))


def test_log_loss_matches_scikit_learn():
    assert score("log_loss", M, Y3, P3) == pytest.approx(skm.log_loss(Y3, P3, labels=[0, 1, 2]))


def test_a_confident_mistake_gives_a_large_but_finite_log_loss():
    assert 30 < score("log_loss", B, np.array([0]), np.array([[0.0, 1.0]])) < 40


def test_roc_auc_is_undefined_when_only_one_class_is_present():
    assert math.isnan(score("roc_auc", B, np.array([1, 1, 1]), np.array([[0.2, 0.8]] * 3)))


def test_average_precision_is_undefined_when_every_row_is_positive():
    assert math.isnan(score("pr_auc", B, np.array([1, 1]), np.array([[0.3, 0.7], [0.6, 0.4]])))


def test_regression_errors_are_in_the_targets_unit():
    y, pred = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 8.0])
    assert (score("rmse", R, y, pred), score("mae", R, y, pred)) == (2.0, 1.0)


def test_r2_matches_scikit_learn():
    y, pred = np.array([1.0, 2.0, 4.0, 7.0]), np.array([1.5, 2.0, 3.0, 7.5])
    assert score("r2", R, y, pred) == pytest.approx(skm.r2_score(y, pred))


def test_r2_is_undefined_under_two_rows():
    assert math.isnan(score("r2", R, np.array([3.0]), np.array([2.0])))


def test_mape_is_undefined_when_every_truth_is_zero():
    assert math.isnan(score("mape", R, np.zeros(3), np.array([1.0, 2.0, 3.0])))


def test_binary_f1_is_the_f1_of_the_second_class():
    y, proba = np.array([0, 1, 1, 0]), np.array([[0.2, 0.8], [0.3, 0.7], [0.6, 0.4], [0.9, 0.1]])
    assert score("f1", B, y, proba) == pytest.approx(skm.f1_score(y, proba.argmax(axis=1)))


def test_an_unknown_metric_lists_the_ones_that_fit_the_task():
    with pytest.raises(UnknownMetric, match="rmse"):
        score("accuracy", R, np.zeros(2), np.zeros(2))


@pytest.mark.parametrize("name", ["log_loss", "rmse", "mae", "mape"])
def test_an_error_metric_counts_the_smaller_value_as_better(name: str):
    assert METRICS[name].better(0.1, 0.2)
