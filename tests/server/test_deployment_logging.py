"""The platform's prediction log: a deployment's log policy is validated, stored, applied by
every server process, shown; its predictions land in the log; /metrics shows the log's health."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.server.conftest import bearer, credit_records

from trainforge.config import ServerConfig
from trainforge.monitoring.prediction_log import LogPolicy, read_predictions
from trainforge.server.app import create_server_app
from trainforge.store.deployments import list_deployments

SAMPLED = {"mode": "sample", "rate": 0.25, "exclude": ["age"], "hashed": ["purpose"]}


@pytest.fixture(scope="module")
def records() -> list[dict[str, object]]:
    return credit_records(3)


def _deploy(client: TestClient, token: str, log: object) -> object:
    return client.post("/api/v1/deployments", headers=bearer(token),
                       json={"model": "credit:1", "name": "credit", "log": log})


def test_a_deploy_with_a_sample_policy_stores_it_and_the_log_applies_it(
        trained_client, trained_tokens, trained):
    answer = _deploy(trained_client, trained_tokens["editor"], SAMPLED)
    assert answer.status_code == 201 and answer.json()["log"] == SAMPLED
    [row] = list_deployments(trained)
    assert row["log_policy"] == SAMPLED
    applied = trained_client.app.state.prediction_log.policy("credit")
    assert applied == LogPolicy("sample", 0.25, ("age",), ("purpose",))


def test_another_server_process_applies_the_policy_when_it_reads_the_deployments(
        trained_client, trained_tokens, trained):
    other = create_server_app(trained, ServerConfig())
    _deploy(trained_client, trained_tokens["editor"], SAMPLED)
    other.state.deployments.sync()
    assert other.state.prediction_log.policy("credit").rate == 0.25


def test_a_policy_naming_a_column_the_model_lacks_is_a_422_naming_it(trained_client,
                                                                     trained_tokens, trained):
    answer = _deploy(trained_client, trained_tokens["editor"], {"exclude": ["salary"]})
    assert answer.status_code == 422 and "'salary'" in answer.json()["detail"]
    assert list_deployments(trained) == []


def test_a_column_both_excluded_and_hashed_is_a_422(trained_client, trained_tokens):
    answer = _deploy(trained_client, trained_tokens["editor"],
                     {"exclude": ["age"], "hashed": ["age"]})
    assert answer.status_code == 422 and "both in exclude and in hashed" in answer.text


def test_a_sample_rate_above_one_is_a_422(trained_client, trained_tokens):
    answer = _deploy(trained_client, trained_tokens["editor"], {"mode": "sample", "rate": 2})
    assert answer.status_code == 422
    assert [e["loc"] for e in answer.json()["detail"]] == [["body", "log", "rate"]]


def test_a_deployment_without_a_policy_is_listed_as_logging_everything(trained_client,
                                                                       trained_tokens):
    _deploy(trained_client, trained_tokens["editor"], None)
    [listed] = trained_client.get("/api/v1/deployments",
                                  headers=bearer(trained_tokens["viewer"])).json()
    assert listed["log"] == {"mode": "all", "rate": 1.0, "exclude": [], "hashed": []}


def test_a_platform_prediction_lands_in_the_workspaces_log_with_its_request_id(
        trained, trained_tokens, records):
    with TestClient(create_server_app(trained, ServerConfig())) as client:
        _deploy(client, trained_tokens["editor"], {"exclude": ["age"]})
        answer = client.post("/v1/models/credit/predict", headers=bearer(
            trained_tokens["viewer"]), json={"records": records}).json()
    logged = read_predictions(trained.prediction_log, "credit")
    assert list(logged["request_id"]) == [answer["request_id"]] * len(records)
    assert "in.age" not in logged and "in.duration" in logged


def test_metrics_show_the_prediction_log_rows_to_a_viewer(trained_client, trained_tokens,
                                                          records):
    _deploy(trained_client, trained_tokens["editor"], None)
    trained_client.post("/v1/models/credit/predict", headers=bearer(trained_tokens["viewer"]),
                        json={"records": records})
    trained_client.app.state.prediction_log.flush()
    metrics = trained_client.get("/metrics", headers=bearer(trained_tokens["viewer"]))
    assert f'trainforge_prediction_log_rows_total{{outcome="written"}} {len(records)}' in (
        metrics.text)
    assert 'trainforge_predictions_total{model="credit:1"} 3' in metrics.text


def test_metrics_need_a_token(trained_client):
    assert trained_client.get("/metrics").status_code == 401


def test_the_deploy_form_takes_a_log_policy_and_the_page_shows_it(editor):
    editor.post("/ui/deployments", data={"model": "credit", "log": "sample:0.1"})
    assert "Prediction log: a sample of 10.0 % of requests" in editor.get("/deployments").text


def test_the_deploy_form_refuses_a_log_policy_it_cannot_read(editor):
    answer = editor.post("/ui/deployments", data={"model": "credit", "log": "some"})
    assert "not all, none or sample:RATE" in answer.text
