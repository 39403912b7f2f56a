"""POST /v1/models/{name}/feedback: labels for a deployment's logged predictions, by an
editor, bounded and validated whole, answered with the outcome of each record."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.server.conftest import bearer, credit_records

from trainforge.config import ServerConfig
from trainforge.monitoring.prediction_log import PredictionLog, new_request_id
from trainforge.server.app import create_server_app
from trainforge.store.feedback import list_labels
from trainforge.workspace import Workspace


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return credit_records(3)


@pytest.fixture
def served(trained: Workspace) -> TestClient:
    """The platform over ``trained`` with ``credit`` deployed."""
    client = TestClient(create_server_app(trained, ServerConfig()))
    client.app.state.deployments.deploy("credit", deployed_by="ann")  # type: ignore[attr-defined]
    return client


def _predict_and_log(client: TestClient, workspace: Workspace, token: str,
                     records: list[dict[str, Any]]) -> tuple[str, list[Any]]:
    """Predict through the served route, and log the answer as the server's log does."""
    answer = client.post("/v1/models/credit/predict", headers=bearer(token),
                         json={"records": records}).json()
    request_id = new_request_id()
    log = PredictionLog(workspace.prediction_log)
    log.record(deployment="credit", model="credit", version=2, request_id=request_id,
               inputs={k: [r[k] for r in records] for k in records[0]},
               outputs={"prediction": answer["predictions"]}, n_rows=len(records),
               latency_s=0.001)
    log.flush()
    return request_id, answer["predictions"]


def _send(client: TestClient, token: str, body: dict[str, Any]) -> Any:
    return client.post("/v1/models/credit/feedback", headers=bearer(token), json=body)


def test_labels_for_served_predictions_are_recorded_round_trip(served, trained,
                                                               trained_tokens, records):
    request_id, predictions = _predict_and_log(served, trained, trained_tokens["viewer"],
                                               records)
    answer = _send(served, trained_tokens["editor"], {"records": [
        {"request_id": request_id, "row": row, "label": label}
        for row, label in enumerate(predictions)]})
    assert answer.status_code == 200
    assert answer.json()["counts"]["recorded"] == len(records)
    assert [r["label"] for r in list_labels(trained, "credit")] == predictions


def test_the_answer_names_each_record_not_recorded_by_position(served, trained,
                                                                trained_tokens, records):
    request_id, _ = _predict_and_log(served, trained, trained_tokens["viewer"], records[:1])
    answer = _send(served, trained_tokens["editor"], {"records": [
        {"request_id": request_id, "label": "good"},
        {"request_id": "no-such-request", "label": "good"},
        {"request_id": request_id, "label": "bad"}]}).json()
    assert answer["records"] == [{"position": 1, "outcome": "unknown_request", "late": False},
                                 {"position": 2, "outcome": "conflict", "late": False}]
    assert "no-such-request" not in str(answer)


def test_a_viewer_token_may_not_send_labels(served, trained_tokens):
    answer = _send(served, trained_tokens["viewer"],
                   {"records": [{"request_id": "r", "label": "good"}]})
    assert answer.status_code == 403 and "editor" in answer.json()["detail"]


def test_labels_for_an_unknown_deployment_are_a_404(served, trained_tokens):
    answer = served.post("/v1/models/nothing/feedback", headers=bearer(trained_tokens["editor"]),
                         json={"records": [{"request_id": "r", "label": "good"}]})
    assert answer.status_code == 404


@pytest.mark.parametrize("body", [{"records": [{"request_id": "r", "label": [1]}]},
                                  {"records": "all"}, {"records": [], "extra": 1}])
def test_a_malformed_body_is_a_422(served, trained_tokens, body):
    assert _send(served, trained_tokens["editor"], body).status_code == 422


def test_a_malformed_record_writes_none_of_its_batch(served, trained, trained_tokens, records):
    request_id, _ = _predict_and_log(served, trained, trained_tokens["viewer"], records[:1])
    answer = _send(served, trained_tokens["editor"], {"records": [
        {"request_id": request_id, "label": "good"}, {"label": "bad"}]})
    assert answer.status_code == 422 and answer.json()["detail"].startswith("record 1:")
    assert list_labels(trained, "credit") == []


def test_ten_thousand_and_one_labels_are_a_413_saying_to_split(served, trained_tokens):
    answer = _send(served, trained_tokens["editor"],
                   {"records": [{"request_id": "r", "label": "good"}] * 10_001})
    assert answer.status_code == 413 and "Split" in answer.json()["detail"]
