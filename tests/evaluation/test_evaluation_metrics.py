import math

import numpy as np
import pytest
from sklearn import metrics as skm

from trainforge.data.task import METRICS as TASK_METRICS
from trainforge.data.task import SUPERVISED_KINDS, TaskKind
from trainforge.errors import UnknownMetric
from trainforge.evaluation import metrics

RNG = np.random.default_rng(0)
Y3 = RNG.integers(0, 3, size=300)
P3 = RNG.dirichlet([1.0, 1.0, 1.0], size=300)
P3[np.arange(300), Y3] += 0.5  # an informative but imperfect classifier
P3 /= P3.sum(axis=1, keepdims=True)


def test_accuracy_is_the_share_of_right_answers():
    assert metrics.accuracy(np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0])) == 0.75


def test_balanced_accuracy_weights_a_rare_class_like_a_common_one():
    y_true, y_pred = np.array([0] * 9 + [1]), np.array([0] * 10)
    assert metrics.balanced_accuracy(y_true, y_pred) == 0.5


def test_multiclass_roc_auc_is_the_one_vs_rest_macro_average():
    expected = skm.roc_auc_score(Y3, P3, multi_class="ovr", average="macro")
    assert metrics.roc_auc(Y3, P3) == pytest.approx(expected)


def test_binary_scores_rank_the_second_class_as_positive():
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]])
    assert metrics.roc_auc(y, proba) == pytest.approx(0.75)
    assert metrics.pr_auc(y, proba) == pytest.approx(skm.average_precision_score(y, proba[:, 1]))


def test_log_loss_matches_scikit_learn():
    assert metrics.log_loss(Y3, P3) == pytest.approx(skm.log_loss(Y3, P3, labels=[0, 1, 2]))


def test_a_confident_mistake_gives_a_large_but_finite_log_loss():
    assert 30 < metrics.log_loss(np.array([0]), np.array([[0.0, 1.0]])) < 40


def test_roc_auc_is_undefined_when_only_one_class_is_present():
    assert math.isnan(metrics.roc_auc(np.array([1, 1, 1]), np.array([[0.2, 0.8]] * 3)))


def test_regression_errors_are_in_the_targets_unit():
    y, pred = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 8.0])
    assert (metrics.rmse(y, pred), metrics.mae(y, pred)) == (2.0, 1.0)


def test_r2_matches_scikit_learn_and_is_undefined_for_a_constant_truth():
    y, pred = np.array([1.0, 2.0, 4.0, 7.0]), np.array([1.5, 2.0, 3.0, 7.5])
    assert metrics.r2(y, pred) == pytest.approx(skm.r2_score(y, pred))
    assert math.isnan(metrics.r2(np.array([3.0, 3.0]), np.array([3.0, 2.0])))


def test_mape_skips_rows_whose_truth_is_zero():
    y, pred = np.array([0.0, 10.0, 20.0]), np.array([5.0, 11.0, 18.0])
    assert metrics.mape(y, pred) == pytest.approx(0.1)


def test_an_unknown_metric_lists_the_ones_that_fit_the_task():
    with pytest.raises(UnknownMetric, match="rmse"):
        metrics.get_metric("accuracy", TaskKind.REGRESSION)


def test_a_trivial_classifier_scores_chance_roc_auc():
    y_train, y_eval = np.array([0, 0, 0, 1]), np.array([0, 1, 0, 1])
    assert metrics.baseline_score("roc_auc", TaskKind.BINARY, y_train, y_eval,
                                  n_classes=2) == 0.5


def test_average_precision_is_undefined_when_every_row_is_positive():
    assert math.isnan(metrics.pr_auc(np.array([1, 1]), np.array([[0.3, 0.7], [0.6, 0.4]])))


@pytest.mark.parametrize("kind", sorted(SUPERVISED_KINDS))
def test_every_metric_a_task_can_optimise_is_one_evaluation_computes(kind: TaskKind):
    assert set(TASK_METRICS[kind]) <= set(metrics.metric_names(kind))


def test_binary_f1_is_the_f1_of_the_second_class():
    y, proba = np.array([0, 1, 1, 0]), np.array([[0.2, 0.8], [0.3, 0.7], [0.6, 0.4], [0.9, 0.1]])
    assert metrics.f1_positive(y, proba) == pytest.approx(skm.f1_score(y, proba.argmax(axis=1)))
