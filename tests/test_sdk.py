"""The SDK a notebook user imports: `import trainforge as tf`."""

from __future__ import annotations

import pandas as pd
import pytest
from tests._paths import EXAMPLES

import trainforge as tf

CREDIT = EXAMPLES / "credit_g.csv"
WINE = EXAMPLES / "wine.csv"


def test_the_public_api_is_pinned():
    assert sorted(tf.__all__) == sorted(["AnomaliesModel", "Model", "SegmentsModel",
                                         "TrainedModel", "TrainedPolicy", "Workspace",
                                         "__version__", "cluster", "evaluate", "evaluate_agent",
                                         "feedback", "find_anomalies", "load", "monitor",
                                         "predict_batch", "profile",
                                         "serve", "train",
                                         "train_agent"])


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tf.Workspace:
    return tf.Workspace(tmp_path_factory.mktemp("sdk"))


@pytest.fixture(scope="module")
def model(workspace: tf.Workspace) -> tf.TrainedModel:
    return tf.train(CREDIT, target="class", name="credit", trials=3, workspace=workspace)


@pytest.mark.slow
def test_train_returns_test_metrics_from_the_held_out_split(model):
    assert 0.6 < model.evaluation.metrics["roc_auc"] <= 1.0
    assert model.outcome.evaluation.metrics["accuracy"] > 0.6


@pytest.mark.slow  # the module's AutoML model: 3 trials, ~29 s at load
def test_predict_gives_a_label_per_row_and_proba_a_column_per_class(model):
    rows = pd.read_csv(CREDIT).drop(columns=["class"]).head(5)
    assert set(model.predict(rows)) <= {"good", "bad"}
    assert list(model.predict_proba(rows).columns) == ["bad", "good"]


@pytest.mark.slow  # the module's AutoML model: 3 trials, ~29 s at load
def test_load_by_alias_gives_the_same_predictions(model, workspace):
    workspace.registry.alias("credit", model.version, "production")
    again = tf.load("credit@production", workspace=workspace)
    rows = pd.read_csv(CREDIT).head(20)
    assert (again.predict(rows) == model.predict(rows)).all()


@pytest.mark.slow
def test_the_same_seed_and_trials_give_the_same_model(model, tmp_path):
    again = tf.train(CREDIT, target="class", name="credit", trials=3,
                     workspace=tf.Workspace(tmp_path))
    rows = pd.read_csv(CREDIT).head(50)
    assert model.predict_proba(rows).round(10).equals(again.predict_proba(rows).round(10))


def test_cluster_returns_segments_in_words_and_a_model_that_assigns_new_rows(workspace):
    seg = tf.cluster(WINE, exclude=["cultivar"], method="kmeans", k=3, workspace=workspace)
    rows = pd.read_csv(WINE).drop(columns=["cultivar"])
    assert [s.n_rows for s in seg.segments] == sorted((s.n_rows for s in seg.segments),
                                                      reverse=True)
    assert (seg.predict(rows) == seg.labels).mean() > 0.95
    assert tf.load(seg.ref, workspace=workspace).task.kind.value == "clustering"


@pytest.mark.slow
def test_find_anomalies_scores_rows_and_the_loaded_detector_scores_alike(workspace):
    found = tf.find_anomalies(CREDIT, exclude=["class"], method="isolation_forest",
                              workspace=workspace)
    rows = pd.read_csv(CREDIT).drop(columns=["class"]).head(20)
    loaded = tf.load(found.ref, workspace=workspace)
    assert loaded.anomaly_score(rows).tolist() == pytest.approx(found.scores[:20].tolist())
    assert found.anomalies[0].score == found.scores.max()
