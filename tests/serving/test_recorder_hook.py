"""The recorder hook: each answered prediction is handed to the recorder after it is sent,
with its inputs and outputs; a recorder that fails never fails a prediction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from trainforge.registry.loaded import LoadedModel
from trainforge.serving.app import create_app


@dataclass
class _Stats:
    written_rows: int = 0
    dropped_rows: dict[str, int] = field(default_factory=dict)


class _Kept:
    """A recorder that keeps what it is given, as a list of calls."""

    def __init__(self) -> None:
        self.stats = _Stats()
        self.calls: list[dict[str, Any]] = []

    def record(self, *, deployment: str, model: str, version: int, request_id: str,
               inputs: Mapping[str, Sequence[Any]], outputs: Mapping[str, Sequence[Any]],
               n_rows: int, latency_s: float) -> None:
        self.calls.append({"deployment": deployment, "model": model, "version": version,
                           "request_id": request_id, "inputs": inputs, "outputs": outputs,
                           "n_rows": n_rows, "latency_s": latency_s})

    def start(self) -> object:
        return self

    def close(self) -> None:
        pass


class _Failing(_Kept):
    def record(self, **_: Any) -> None:  # type: ignore[override]
        raise OSError("the disk is full")


@pytest.fixture
def kept() -> _Kept:
    return _Kept()


@pytest.fixture
def recorded(classifier: LoadedModel, kept: _Kept) -> TestClient:
    return TestClient(create_app({"churn": classifier}, recorder=kept),
                      raise_server_exceptions=False)


def test_an_answered_prediction_is_recorded_under_its_served_name_and_request_id(
        recorded, kept, one_record):
    answer = recorded.post("/v1/models/churn/predict", json={"records": [one_record]}).json()
    [call] = kept.calls
    assert (call["deployment"], call["model"], call["version"]) == ("churn", "adult", 1)
    assert call["request_id"] == answer["request_id"]
    assert call["n_rows"] == 1 and call["latency_s"] > 0


def test_the_record_holds_the_validated_inputs_one_list_per_feature(recorded, kept, records):
    recorded.post("/v1/models/churn/predict", json={"records": records[:3]})
    inputs = kept.calls[0]["inputs"]
    assert inputs["age"] == [r["age"] for r in records[:3]]
    assert inputs["workclass"] == [r["workclass"] for r in records[:3]]


def test_the_record_holds_the_predictions_and_each_class_probability(recorded, kept,
                                                                    one_record):
    answer = recorded.post("/v1/models/churn/predict", json={"records": [one_record]}).json()
    outputs = kept.calls[0]["outputs"]
    assert outputs["prediction"] == answer["predictions"]
    assert outputs["proba.>50K"] == [pytest.approx(answer["probabilities"][0][">50K"])]


def test_an_invocation_is_recorded_with_the_id_of_its_header(recorded, kept, one_record):
    response = recorded.post("/invocations", json={"dataframe_records": [one_record]})
    assert kept.calls[0]["request_id"] == response.headers["x-request-id"]
    assert kept.calls[0]["outputs"]["prediction"] == response.json()["predictions"]


def test_a_refused_request_is_not_recorded(recorded, kept, one_record):
    del one_record["age"]
    recorded.post("/v1/models/churn/predict", json={"records": [one_record]})
    assert kept.calls == []


def test_a_recorder_that_raises_never_fails_the_prediction(classifier, client, one_record):
    failing = TestClient(create_app({"adult": classifier}, recorder=_Failing()),
                         raise_server_exceptions=True)
    response = failing.post("/v1/models/adult/predict", json={"records": [one_record]})
    expected = client.post("/v1/models/adult/predict", json={"records": [one_record]}).json()
    assert response.status_code == 200
    assert response.json()["probabilities"] == expected["probabilities"]


def test_metrics_count_the_cpu_time_of_answered_predictions(recorded, records):
    recorded.post("/v1/models/churn/predict", json={"records": records})
    metrics = recorded.get("/metrics").text
    [line] = [x for x in metrics.splitlines() if x.startswith("trainforge_cpu_seconds_total{")]
    assert float(line.split()[-1]) > 0


def test_metrics_show_the_recorders_rows_written_and_dropped_by_reason(recorded, kept):
    kept.stats.written_rows, kept.stats.dropped_rows = 5, {"write failed: No space": 2}
    metrics = recorded.get("/metrics").text
    assert 'trainforge_prediction_log_rows_total{outcome="written"} 5' in metrics
    assert ('trainforge_prediction_log_rows_total{outcome="dropped",'
            'reason="write failed: No space"} 2') in metrics
