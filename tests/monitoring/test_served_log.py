"""The prediction log wired into `trainforge serve`: what its app answers lands in the
workspace's log, as the policy says; a log that cannot write loses log rows, never answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.serving.models import adult, lightgbm_classifier, record

from trainforge.errors import ConfigError
from trainforge.monitoring.prediction_log import LogPolicy, read_predictions, serving_log
from trainforge.registry.loaded import LoadedModel
from trainforge.serving.server import build_server

INPUTS = {"adult": ["age", "workclass", "education", "sex"]}


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    return lightgbm_classifier(adult(600), "class", tmp_path_factory.mktemp("adult"))


@pytest.fixture(scope="module")
def rows() -> list[dict[str, object]]:
    frame = adult(5)
    return [record(frame, i) for i in range(3)]


def _served(classifier: LoadedModel, root: Path, policy: str, *,
            exclude: tuple[str, ...] = (), hashed: tuple[str, ...] = ()) -> TestClient:
    """`trainforge serve adult --log POLICY ...`'s app, as its CLI builds it."""
    log = serving_log(root, LogPolicy.parse(policy, exclude=exclude, hashed=hashed),
                      inputs={"adult": [spec.name for spec in classifier.model.features]})
    return TestClient(build_server([classifier], recorder=log).config.app)


def test_a_served_prediction_lands_in_the_log_with_the_request_id_it_answered(
        classifier, rows, tmp_path):
    with _served(classifier, tmp_path, "all") as client:  # closing the app writes the log
        answer = client.post("/v1/models/adult/predict", json={"records": rows[:2]}).json()
    logged = read_predictions(tmp_path, "adult")
    assert list(logged["request_id"]) == [answer["request_id"]] * 2
    assert list(logged["in.age"]) == [r["age"] for r in rows[:2]]
    assert list(logged["out.prediction"]) == answer["predictions"]
    assert set(logged["version"]) == {1} and (logged["latency_ms"] > 0).all()


def test_excluded_columns_are_not_logged_and_hashed_ones_not_readable(classifier, rows,
                                                                       tmp_path):
    with _served(classifier, tmp_path, "all", exclude=("age",), hashed=("sex",)) as client:
        client.post("/v1/models/adult/predict", json={"records": rows[:2]})
    logged = read_predictions(tmp_path, "adult")
    assert "in.age" not in logged
    assert not set(logged["in.sex"]) & {r["sex"] for r in rows}
    assert "in.workclass" in logged


def test_log_none_writes_nothing(classifier, rows, tmp_path):
    with _served(classifier, tmp_path, "none") as client:
        assert client.post("/v1/models/adult/predict", json={"records": rows}).status_code == 200
    assert list(tmp_path.iterdir()) == []


def test_a_policy_naming_a_column_the_model_lacks_is_refused_naming_it(tmp_path):
    with pytest.raises(ConfigError, match=r"serving 'adult'.*'agee'"):
        serving_log(tmp_path, LogPolicy.parse("all", exclude=["agee"]), inputs=INPUTS)


def test_a_log_that_cannot_write_still_answers_and_metrics_count_the_drop(classifier, rows,
                                                                          tmp_path):
    blocked = tmp_path / "predictions"
    blocked.write_text("a file where the log's folder should be")
    log = serving_log(blocked, LogPolicy(), inputs=INPUTS)
    assert log is not None
    client = TestClient(build_server([classifier], recorder=log).config.app)
    response = client.post("/v1/models/adult/predict", json={"records": rows[:2]})
    log.flush()
    metrics = client.get("/metrics").text
    assert response.status_code == 200
    assert 'trainforge_prediction_log_rows_total{outcome="written"} 0' in metrics
    assert 'trainforge_prediction_log_rows_total{outcome="dropped",reason="write failed' in metrics
