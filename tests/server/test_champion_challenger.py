"""Champion and challenger on the platform: a shadow answers a copy of the traffic (logged,
never returned), promotion and rollback change what is served and are recorded (who, when,
why), and the promotion rule promotes by itself only when it holds."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests._paths import EXAMPLES
from tests.server.conftest import bearer, credit_records

import trainforge as tf
from trainforge.config import ServerConfig
from trainforge.monitoring.compare import shadow_log_root
from trainforge.monitoring.prediction_log import PredictionLog, read_predictions
from trainforge.server.app import create_server_app
from trainforge.server.deployments import AUTO_PROMOTION, promote_when_due
from trainforge.store import feedback as labels_store
from trainforge.store.clock import utc_now
from trainforge.store.deployments import (
    get_deployment,
    list_events,
    save_deployment,
    set_promotion_rule,
)
from trainforge.workspace import Workspace

N_LABELLED = 120


@pytest.fixture(scope="module")
def records() -> list[dict[str, object]]:
    return credit_records(3)


def _post(client: TestClient, token: str, path: str, body: object) -> object:
    return client.post(f"/api/v1/deployments{path}", headers=bearer(token), json=body)


def _shadowed(client: TestClient, token: str) -> None:
    answer = _post(client, token, "", {"model": "credit:1", "shadow": "credit:2"})
    assert answer.status_code == 201, answer.text


def test_a_shadowed_request_is_logged_by_both_versions_under_one_request_id(
        trained, trained_tokens, records):
    with TestClient(create_server_app(trained, ServerConfig())) as client:
        _shadowed(client, trained_tokens["editor"])
        answer = client.post("/v1/models/credit/predict", headers=bearer(
            trained_tokens["viewer"]), json={"records": records}).json()
    champion = read_predictions(trained.prediction_log, "credit")
    shadow = read_predictions(shadow_log_root(trained.prediction_log), "credit")
    assert answer["model"] == "credit:1"
    assert set(champion["version"]) == {1} and set(shadow["version"]) == {2}
    assert list(shadow["request_id"]) == [answer["request_id"]] * len(records)


def test_a_deployment_that_logs_nothing_logs_nothing_of_its_shadow_either(
        trained, trained_tokens, records):
    with TestClient(create_server_app(trained, ServerConfig())) as client:
        answer = _post(client, trained_tokens["editor"], "",
                       {"model": "credit:1", "shadow": "credit:2", "log": {"mode": "none"}})
        assert answer.status_code == 201, answer.text
        assert client.post("/v1/models/credit/predict", headers=bearer(
            trained_tokens["viewer"]), json={"records": records}).status_code == 200
    assert read_predictions(shadow_log_root(trained.prediction_log), "credit").empty


def test_a_failing_shadow_changes_neither_the_answer_nor_its_status(
        trained_client, trained_tokens, records, monkeypatch):
    _shadowed(trained_client, trained_tokens["editor"])
    expected = trained_client.post("/v1/models/credit/predict", headers=bearer(
        trained_tokens["viewer"]), json={"records": records}).json()
    shadow = trained_client.app.state.deployments.router.shadowed["credit"]

    def broken(columns: object) -> object:
        raise RuntimeError("the shadow broke")

    monkeypatch.setattr(shadow, "outputs", broken)
    answer = trained_client.post("/v1/models/credit/predict", headers=bearer(
        trained_tokens["viewer"]), json={"records": records})
    trained_client.app.state.deployments.stop_following()  # the shadow's queue is done
    assert answer.status_code == 200
    assert answer.json()["predictions"] == expected["predictions"]
    assert trained_client.app.state.deployments.router.shadows.stats.failed_rows == 3


def test_metrics_count_the_rows_a_failing_shadow_dropped_by_deployment_and_reason(
        trained_client, trained_tokens, records, monkeypatch):
    _shadowed(trained_client, trained_tokens["editor"])
    shadow = trained_client.app.state.deployments.router.shadowed["credit"]

    def broken(columns: object) -> object:
        raise RuntimeError("the shadow broke")

    monkeypatch.setattr(shadow, "outputs", broken)
    trained_client.post("/v1/models/credit/predict", headers=bearer(trained_tokens["viewer"]),
                        json={"records": records})
    trained_client.app.state.deployments.stop_following()  # the shadow's queue is done
    metrics = trained_client.get("/metrics", headers=bearer(trained_tokens["viewer"])).text
    assert ('trainforge_shadow_rows_total{deployment="credit",outcome="dropped",'
            'reason="the shadow failed"} 3') in metrics


def test_a_shadow_taking_other_inputs_is_a_422_naming_the_columns(trained_client,
                                                                  trained_tokens, trained):
    tf.train(EXAMPLES / "wine.csv", target="cultivar", name="wine", trials=1,
             algorithm="linear", workspace=trained)
    answer = _post(trained_client, trained_tokens["editor"], "",
                   {"model": "credit:1", "shadow": "wine:1"})
    assert answer.status_code == 422
    assert "duration" in answer.json()["detail"] and "alcohol" in answer.json()["detail"]


def test_promote_serves_the_shadow_and_records_who_and_why(trained_client, trained_tokens,
                                                           records):
    _shadowed(trained_client, trained_tokens["editor"])
    promoted = _post(trained_client, trained_tokens["editor"], "/credit/promote",
                     {"reason": "better on the March labels"}).json()
    answer = trained_client.post("/v1/models/credit/predict", headers=bearer(
        trained_tokens["viewer"]), json={"records": records}).json()
    [latest, *_] = trained_client.get("/api/v1/deployments/credit/history",
                                      headers=bearer(trained_tokens["viewer"])).json()
    assert (promoted["version"], promoted["shadow"], answer["model"]) == (2, None, "credit:2")
    assert (latest["action"], latest["from_version"], latest["to_version"]) == ("promote", 1, 2)
    assert (latest["by"], latest["reason"]) == ("editor-token", "better on the March labels")


def test_rollback_after_a_promotion_serves_the_old_champion_again(trained_client,
                                                                  trained_tokens, records):
    _shadowed(trained_client, trained_tokens["editor"])
    _post(trained_client, trained_tokens["editor"], "/credit/promote", {})
    rolled = _post(trained_client, trained_tokens["editor"], "/credit/rollback",
                   {"reason": "latency doubled"})
    answer = trained_client.post("/v1/models/credit/predict", headers=bearer(
        trained_tokens["viewer"]), json={"records": records}).json()
    [latest, *_] = trained_client.get("/api/v1/deployments/credit/history",
                                      headers=bearer(trained_tokens["viewer"])).json()
    assert rolled.status_code == 200 and answer["model"] == "credit:1"
    assert (latest["action"], latest["to_version"], latest["reason"]) == (
        "rollback", 1, "latency doubled")


def test_rollback_without_a_previous_version_is_a_409_saying_so(trained_client,
                                                               trained_tokens):
    _post(trained_client, trained_tokens["editor"], "", {"model": "credit:1"})
    answer = _post(trained_client, trained_tokens["editor"], "/credit/rollback", {})
    assert answer.status_code == 409
    assert "has no previous version to roll back to" in answer.json()["detail"]


def test_promote_without_a_shadow_is_a_409(trained_client, trained_tokens):
    _post(trained_client, trained_tokens["editor"], "", {"model": "credit:1"})
    answer = _post(trained_client, trained_tokens["editor"], "/credit/promote", {})
    assert answer.status_code == 409 and "has no shadow" in answer.json()["detail"]


def test_a_viewer_cannot_promote(trained_client, trained_tokens):
    _shadowed(trained_client, trained_tokens["editor"])
    answer = _post(trained_client, trained_tokens["viewer"], "/credit/promote", {})
    assert answer.status_code == 403


def _logged_with_labels(ws: Workspace, *, champion_right: float, shadow_right: float) -> None:
    """credit:1 serving with credit:2 in shadow, N_LABELLED labelled requests of each."""
    save_deployment(ws, name="credit", model_name="credit", model_version=1,
                    requested="credit:1", deployed_by="eve", shadow=("credit", 2))
    classes = ws.registry.show("credit:1")["task"]["classes"]
    truth = [classes[i % 2] for i in range(N_LABELLED)]
    for root, version, right in ((ws.prediction_log, 1, champion_right),
                                 (shadow_log_root(ws.prediction_log), 2, shadow_right)):
        with PredictionLog(root) as log:
            for i, label in enumerate(truth):
                said = label if i < right * N_LABELLED else classes[1 - i % 2]
                log.record(deployment="credit", model="credit", version=version,
                           request_id=f"r{i}", inputs={}, n_rows=1, latency_s=0.001,
                           outputs={"prediction": [said]} | {
                               f"proba.{c}": [float(c == said)] for c in classes})
    with ws.engine.begin() as connection:
        labels_store.write_labels(connection, [labels_store.NewLabel(
            deployment="credit", request_id=f"r{i}", row=0, label=label, model_name="credit",
            model_version=1, predicted_at=utc_now(), received_at=utc_now(),
            submitted_by="eve", replaced_at=None) for i, label in enumerate(truth)],
            replaced=[], replaced_at=utc_now())


def test_auto_promotion_fires_when_the_rule_holds(trained):
    _logged_with_labels(trained, champion_right=0.6, shadow_right=0.95)
    set_promotion_rule(trained, "credit", {"min_margin": 0.05, "min_labels": 100})
    assert promote_when_due(trained) == ["credit"]
    row = get_deployment(trained, "credit")
    assert (row["model_version"], row["shadow_version"]) == (2, None)


def test_auto_promotion_records_the_rule_as_who_and_the_verdict_as_why(trained):
    _logged_with_labels(trained, champion_right=0.6, shadow_right=0.95)
    set_promotion_rule(trained, "credit", {"min_margin": 0.05, "min_labels": 100})
    promote_when_due(trained)
    [latest, *_] = list_events(trained, "credit")
    assert latest["by"] == AUTO_PROMOTION and "challenger better by" in latest["reason"]


def test_auto_promotion_does_not_fire_for_an_equal_challenger(trained):
    _logged_with_labels(trained, champion_right=0.8, shadow_right=0.8)
    set_promotion_rule(trained, "credit", {"min_margin": 0.0, "min_labels": 100})
    assert promote_when_due(trained) == []


def test_auto_promotion_does_not_fire_without_a_rule(trained):
    _logged_with_labels(trained, champion_right=0.6, shadow_right=0.95)
    assert promote_when_due(trained) == []


def test_the_page_promotes_the_shadow_and_shows_who_did_it_and_why(editor):
    editor.post("/ui/deployments", data={"model": "credit:1"})
    editor.post("/ui/deployments/credit/shadow", data={"model": "credit:2"})
    editor.post("/ui/deployments/credit/promote", data={"reason": "fewer false alarms"})
    shown = editor.get("/deployments").text
    assert "credit → credit:2" in shown.replace('<span class="muted">', "")
    assert "<td>promote</td>" in shown and "<td>eve</td>" in shown
    assert "fewer false alarms" in shown


def test_the_comparison_page_shows_the_verdict(editor, trained):
    _logged_with_labels(trained, champion_right=0.6, shadow_right=0.95)
    assert "challenger better by" in editor.get("/deployments/credit/comparison").text
