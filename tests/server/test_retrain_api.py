"""The retraining policy over HTTP: set and read it, refused whole with the field named, and
a retrain asked for queues an ordinary train job."""

from __future__ import annotations

import pandas as pd
from fastapi.testclient import TestClient
from tests._paths import EXAMPLES
from tests.server.conftest import bearer

from trainforge.data.task import TaskKind
from trainforge.monitoring.feedback import LabelSpec, record_feedback
from trainforge.monitoring.prediction_log import PredictionLog, new_request_id
from trainforge.store import jobs as job_store
from trainforge.store.deployments import save_deployment
from trainforge.workspace import Workspace

URL = "/api/v1/models/credit/retrain-policy"


def _serve_and_label(ws: Workspace, n_rows: int = 8) -> None:
    """credit:2 deployed, one request of ``n_rows`` credit_g rows logged, each labelled."""
    rows = pd.read_csv(EXAMPLES / "credit_g.csv").head(n_rows)
    features = [f["name"] for f in ws.registry.show("credit:2")["signature"]]
    deployment = save_deployment(ws, name="credit", model_name="credit", model_version=2,
                                 requested="credit", deployed_by="ann")
    request_id = new_request_id()
    log = PredictionLog(ws.prediction_log)
    log.record(deployment="credit", model="credit", version=2, request_id=request_id,
               inputs={f: rows[f].tolist() for f in features},
               outputs={"prediction": rows["class"].tolist()}, n_rows=n_rows, latency_s=0.001)
    log.flush()
    record_feedback(ws, ws.prediction_log, deployment=deployment,
                    labels=[{"request_id": request_id, "row": i, "label": label}
                            for i, label in enumerate(rows["class"])],
                    spec=LabelSpec(TaskKind.BINARY, ("bad", "good")), submitted_by="ann")


def test_an_editor_sets_a_policy_and_a_viewer_reads_it(trained_client: TestClient,
                                                       trained_tokens: dict[str, str]):
    put = trained_client.put(URL, json={"new_labels": 50, "every": "7d",
                                        "train_on": "window:30d", "time_budget": 20},
                             headers=bearer(trained_tokens["editor"]))
    got = trained_client.get(URL, headers=bearer(trained_tokens["viewer"]))
    assert put.status_code == 200 and got.status_code == 200
    assert {k: got.json()["policy"][k] for k in ("new_labels", "every", "train_on",
                                                 "time_budget")} == {
        "new_labels": 50, "every": "7d", "train_on": "window:30d", "time_budget": 20.0}
    assert got.json()["updated_by"] == "editor-token"


def test_a_viewer_may_not_set_a_policy(trained_client: TestClient,
                                       trained_tokens: dict[str, str]):
    answer = trained_client.put(URL, json={"new_labels": 5},
                                headers=bearer(trained_tokens["viewer"]))
    assert answer.status_code == 403


def test_a_bad_duration_is_a_422_naming_the_field(trained_client: TestClient,
                                                  trained_tokens: dict[str, str]):
    answer = trained_client.put(URL, json={"min_interval": "soon"},
                                headers=bearer(trained_tokens["editor"]))
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "min_interval"]


def test_a_policy_for_a_missing_model_is_a_404(trained_client: TestClient,
                                               trained_tokens: dict[str, str]):
    answer = trained_client.put("/api/v1/models/ghost/retrain-policy", json={},
                                headers=bearer(trained_tokens["editor"]))
    assert answer.status_code == 404 and "no model 'ghost'" in answer.json()["detail"]


def test_a_metric_floor_outside_the_metrics_range_is_a_422_naming_it(
        trained_client: TestClient, trained_tokens: dict[str, str]):
    answer = trained_client.put(URL, json={"metric_floor": -0.5},
                                headers=bearer(trained_tokens["editor"]))
    assert answer.status_code == 422 and answer.json()["detail"].startswith("metric_floor:")


def test_a_model_without_a_policy_answers_404_saying_how_to_set_one(
        trained_client: TestClient, trained_tokens: dict[str, str]):
    answer = trained_client.get(URL, headers=bearer(trained_tokens["viewer"]))
    assert answer.status_code == 404 and "trainforge policy set credit" in answer.json()["detail"]


def test_retrain_queues_a_train_job_on_the_feedback_submitted_by_the_policy(
        trained: Workspace, trained_client: TestClient, trained_tokens: dict[str, str]):
    _serve_and_label(trained)
    trained_client.put(URL, json={"train_on": "latest:8", "trials": 1},
                       headers=bearer(trained_tokens["editor"]))
    answer = trained_client.post("/api/v1/models/credit/retrain",
                                 headers=bearer(trained_tokens["editor"]))
    assert answer.status_code == 202
    event = answer.json()["event"]
    job = job_store.get_job(trained, event["job_id"])
    assert (event["trigger"], event["outcome"], job["kind"], job["submitted_by"]) == (
        "manual", "queued", "train", "policy:credit")
    assert (job["config"]["train"]["name"], job["config"]["train"]["trials"]) == ("credit", 1)


def test_a_second_retrain_while_one_is_queued_is_a_409(
        trained: Workspace, trained_client: TestClient, trained_tokens: dict[str, str]):
    _serve_and_label(trained)
    first = trained_client.post("/api/v1/models/credit/retrain",
                                headers=bearer(trained_tokens["editor"]))
    again = trained_client.post("/api/v1/models/credit/retrain",
                                headers=bearer(trained_tokens["editor"]))
    assert first.status_code == 202 and again.status_code == 409
    assert "already queued or running" in again.json()["detail"]


def test_retraining_a_model_that_is_not_deployed_is_a_409_saying_why(
        trained_client: TestClient, trained_tokens: dict[str, str]):
    answer = trained_client.post("/api/v1/models/credit/retrain",
                                 headers=bearer(trained_tokens["editor"]))
    assert answer.status_code == 409 and "not deployed" in answer.json()["detail"]
