import numpy as np

from trainforge.data.task import TaskKind
from trainforge.evaluation import metrics


def test_a_trivial_classifier_scores_chance_roc_auc():
    y_train, y_eval = np.array([0, 0, 0, 1]), np.array([0, 1, 0, 1])
    assert metrics.baseline_score("roc_auc", TaskKind.BINARY, y_train, y_eval,
                                  n_classes=2) == 0.5


def test_a_trivial_regressor_predicts_the_training_mean():
    y_train, y_eval = np.array([1.0, 3.0]), np.array([2.0, 4.0])
    assert metrics.baseline_score("mae", TaskKind.REGRESSION, y_train, y_eval) == 1.0
