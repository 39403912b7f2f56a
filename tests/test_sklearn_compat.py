"""A model loaded with ``tf.load`` works where scikit-learn expects a fitted estimator: its
attributes, its default score and its metric scorers."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import is_classifier, is_regressor
from sklearn.metrics import get_scorer, r2_score, roc_auc_score
from tests._paths import EXAMPLES

import trainforge as tf

CREDIT = pd.read_csv(EXAMPLES / "credit_g.csv")
CONCRETE = pd.read_csv(EXAMPLES / "concrete.csv")


@pytest.fixture(scope="module")
def workspace(trained_home: Path, tmp_path_factory: pytest.TempPathFactory) -> tf.Workspace:
    """A copy of the session's ``trained_home`` (tests/conftest.py): ``credit``, linear."""
    home = tmp_path_factory.mktemp("compat") / "home"
    shutil.copytree(trained_home, home)
    return tf.Workspace(home)


@pytest.fixture(scope="module")
def classifier(workspace: tf.Workspace) -> tf.Model:
    return tf.load("credit", workspace=workspace)


@pytest.fixture(scope="module")
def regressor(workspace: tf.Workspace) -> tf.Model:
    tf.train(EXAMPLES / "concrete.csv", target="compressive_strength", name="concrete",
             algorithm="linear", trials=1, time_budget=20, workspace=workspace)
    return tf.load("concrete", workspace=workspace)


def _rows(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.Series]:
    return frame.drop(columns=[target]).head(200), frame[target].head(200)


def test_a_loaded_classifier_is_a_classifier_to_scikit_learn(classifier: tf.Model):
    assert is_classifier(classifier) and not is_regressor(classifier)


def test_a_loaded_classifier_lists_its_classes_in_probability_column_order(
        classifier: tf.Model):
    X, _ = _rows(CREDIT, "class")
    assert list(classifier.classes_) == list(classifier.predict_proba(X).columns)


def test_a_loaded_model_names_the_columns_it_reads(classifier: tf.Model):
    assert list(classifier.feature_names_in_) == [c for c in CREDIT.columns if c != "class"]
    assert classifier.n_features_in_ == len(CREDIT.columns) - 1


def test_a_loaded_classifier_scores_its_accuracy(classifier: tf.Model):
    X, y = _rows(CREDIT, "class")
    assert classifier.score(X, y) == pytest.approx(np.mean(classifier.predict(X) == y))


def test_the_roc_auc_scorer_scores_a_loaded_classifier(classifier: tf.Model):
    X, y = _rows(CREDIT, "class")
    positive = classifier.predict_proba(X)[classifier.classes_[-1]]
    expected = roc_auc_score(y == classifier.classes_[-1], positive)
    assert get_scorer("roc_auc")(classifier, X, y) == pytest.approx(expected)


def test_the_log_loss_scorer_reads_the_probability_columns(classifier: tf.Model):
    X, y = _rows(CREDIT, "class")
    assert get_scorer("neg_log_loss")(classifier, X, y) < 0


def test_a_loaded_regressor_is_a_regressor_to_scikit_learn(regressor: tf.Model):
    assert is_regressor(regressor) and not is_classifier(regressor)


def test_a_loaded_regressor_has_no_classes(regressor: tf.Model):
    assert not hasattr(regressor, "classes_")


def test_a_loaded_regressor_scores_its_r2_alike_by_score_and_scorer(regressor: tf.Model):
    X, y = _rows(CONCRETE, "compressive_strength")
    expected = r2_score(y, regressor.predict(X))
    assert regressor.score(X, y) == pytest.approx(expected)
    assert get_scorer("r2")(regressor, X, y) == pytest.approx(expected)
