"""The jobs API over HTTP: submit, follow, cancel; a worker (in this process) runs the jobs."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from tests._paths import EXAMPLES
from tests.server._jobs import upload
from tests.server.conftest import bearer

from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app
from trainforge.server.workers import Worker
from trainforge.store import access
from trainforge.store.jobs import claim_job, list_jobs
from trainforge.workspace import Workspace

CREDIT = EXAMPLES / "credit_g.csv"
FAST = {"target": "class", "algorithm": "linear", "trials": 1}  # a few seconds on 2 cores


def run_queued_jobs(workspace: Workspace, n: int = 1) -> None:
    Worker(workspace, name="test-worker", heartbeat_s=0.2).run_forever(max_jobs=n)


@pytest.fixture
def editor(tokens) -> dict[str, str]:
    return bearer(tokens["editor"])


@pytest.fixture
def dataset(workspace) -> str:
    return upload(workspace, CREDIT)


@pytest.fixture(scope="module")
def trained(trained_home: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> tuple[Workspace, str, dict[str, str]]:
    """A copy of the session's ``trained_home`` (model credit:1 and :2), its dataset uploaded,
    and an editor token."""
    home = tmp_path_factory.mktemp("trained") / "home"
    shutil.copytree(trained_home, home)
    workspace = Workspace(home)
    token, _ = access.create_token(workspace, name="editor", role="editor")
    return workspace, upload(workspace, CREDIT), bearer(token)


def test_a_train_job_is_queued_and_answered_with_its_id(client, editor, dataset):
    answer = client.post("/api/v1/jobs", headers=editor,
                         json={"kind": "train", "dataset": dataset, "target": "class",
                               "name": "credit", "time_budget": 30})
    assert answer.status_code == 201
    job = answer.json()
    assert job["status"] == "queued" and len(job["id"]) == 32 and job["submitted_by"]
    assert job["config"]["train"]["time_budget_s"] == 30
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=editor).json()["status"] == "queued"


def test_a_train_jobs_intended_use_and_users_reach_its_config(client, editor, dataset):
    job = client.post("/api/v1/jobs", headers=editor,
                      json={"kind": "train", "dataset": dataset, "target": "class",
                            "intended_use": "pre-screening", "intended_users": "credit team"}
                      ).json()
    assert (job["config"]["train"]["intended_use"],
            job["config"]["train"]["intended_users"]) == ("pre-screening", "credit team")


def test_an_over_long_intended_use_is_a_422_naming_the_field(client, editor, dataset):
    answer = client.post("/api/v1/jobs", headers=editor,
                         json={"kind": "train", "dataset": dataset, "target": "class",
                               "intended_use": "x" * 5_001})
    assert answer.status_code == 422 and "intended_use" in answer.text


@pytest.fixture(scope="module")
def train_job(tmp_path_factory: pytest.TempPathFactory
              ) -> tuple[TestClient, dict[str, str], Workspace, str]:
    """One train job of credit (linear, one trial), submitted over HTTP and run by a worker:
    (client, editor headers, workspace, job id), for the tests that only read what it left."""
    workspace = Workspace(tmp_path_factory.mktemp("train-job") / "home")
    editor = bearer(access.create_token(workspace, name="editor", role="editor")[0])
    client = TestClient(create_server_app(workspace, ServerConfig()))
    job = client.post("/api/v1/jobs", headers=editor,
                      json={"kind": "train", "dataset": upload(workspace, CREDIT),
                            "name": "credit", **FAST}).json()
    run_queued_jobs(workspace)
    return client, editor, workspace, job["id"]


@pytest.mark.slow
def test_a_train_job_run_by_a_worker_succeeds_with_a_registered_model(train_job):
    client, editor, workspace, job_id = train_job
    done = client.get(f"/api/v1/jobs/{job_id}", headers=editor).json()
    assert done["status"] == "succeeded", done["error"]
    assert done["result"]["model"] == "credit:1" and done["attempts"] == 1
    assert done["result"]["run_id"] == done["run_id"]
    assert 0.5 < done["result"]["metrics"]["roc_auc"] <= 1.0
    assert workspace.registry.resolve("credit") == ("credit", 1)
    metrics = client.get(f"/api/v1/jobs/{job_id}/metrics", headers=editor).json()
    assert metrics["run_id"] == done["run_id"] and metrics["series"]["trial_score"]
    text = [line["text"] for line in
            client.get(f"/api/v1/jobs/{job_id}/logs", headers=editor).json()["lines"]]
    assert any(line.startswith("task: binary classification of 'class'") for line in text)
    assert any(line.startswith("trial 0: linear ok score") for line in text)
    assert text[-1] == "succeeded"


@pytest.mark.slow
def test_logs_polled_after_a_line_id_return_only_the_lines_after_it(train_job):
    client, editor, _, job_id = train_job
    url = f"/api/v1/jobs/{job_id}/logs"
    whole = client.get(url, headers=editor).json()
    assert whole["done"] and len(whole["lines"]) > 4
    middle = whole["lines"][2]["id"]
    rest = client.get(url, params={"after": middle}, headers=editor).json()
    assert [line["id"] for line in rest["lines"]] == [
        line["id"] for line in whole["lines"] if line["id"] > middle]
    assert client.get(url, params={"after": whole["next_after"]},
                      headers=editor).json()["lines"] == []


def test_a_train_job_that_fails_records_the_error(client, editor, dataset, workspace):
    job = client.post("/api/v1/jobs", headers=editor,
                      json={"kind": "train", "dataset": dataset, "target": "no_such_column",
                            "trials": 1}).json()
    run_queued_jobs(workspace)
    done = client.get(f"/api/v1/jobs/{job['id']}", headers=editor).json()
    assert done["status"] == "failed" and "no_such_column" in done["error"]


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "train", "target": "class"}, "dataset"),
    ({"kind": "train", "dataset": "DATASET", "time_budget": -5}, "time_budget"),
    ({"kind": "train", "dataset": "DATASET", "trials": 0}, "trials"),
    ({"kind": "train", "dataset": "DATASET", "split": "sideways"}, "split"),
    ({"kind": "train", "dataset": "DATASET", "budget": 5}, "budget"),
    ({"kind": "bake", "dataset": "DATASET"}, "kind"),
    ({"kind": "predict", "dataset": "DATASET"}, "model"),
])
def test_an_invalid_body_is_a_422_naming_the_field(client, editor, dataset, body, field):
    body = {k: dataset if v == "DATASET" else v for k, v in body.items()}
    answer = client.post("/api/v1/jobs", headers=editor, json=body)
    assert answer.status_code == 422
    assert field in str(answer.json()["detail"])


def test_an_unknown_dataset_or_algorithm_is_a_422_saying_what_to_do(client, editor, dataset):
    unknown = client.post("/api/v1/jobs", headers=editor,
                          json={"kind": "train", "dataset": "f" * 32, "target": "class"})
    assert unknown.status_code == 422 and "POST /api/v1/datasets" in unknown.json()["detail"]
    typo = client.post("/api/v1/jobs", headers=editor,
                       json={"kind": "train", "dataset": dataset, "algorithm": "lightgmb"})
    assert typo.status_code == 422 and "lightgbm" in typo.json()["detail"]


def test_a_viewer_may_not_submit_a_job_but_may_read_them(client, tokens, dataset):
    viewer = bearer(tokens["viewer"])
    refused = client.post("/api/v1/jobs", headers=viewer,
                          json={"kind": "train", "dataset": dataset, "target": "class"})
    assert refused.status_code == 403 and "editor" in refused.json()["detail"]
    assert client.get("/api/v1/jobs", headers=viewer).json() == []
    assert client.get("/api/v1/jobs").status_code == 401


def test_cancelling_a_queued_job_cancels_it_at_once(client, editor, dataset, workspace):
    job = client.post("/api/v1/jobs", headers=editor,
                      json={"kind": "train", "dataset": dataset, **FAST}).json()
    cancelled = client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=editor).json()
    assert cancelled["status"] == "cancelled"
    assert claim_job(workspace, worker="idle") is None  # no worker will ever run it


def test_jobs_are_listed_newest_first_and_filtered_by_status(client, editor, dataset):
    first = client.post("/api/v1/jobs", headers=editor,
                        json={"kind": "train", "dataset": dataset, **FAST}).json()
    second = client.post("/api/v1/jobs", headers=editor,
                         json={"kind": "train", "dataset": dataset, **FAST}).json()
    client.post(f"/api/v1/jobs/{first['id']}/cancel", headers=editor)
    listed = client.get("/api/v1/jobs", headers=editor).json()
    assert [job["id"] for job in listed] == [second["id"], first["id"]]
    queued = client.get("/api/v1/jobs", params={"status": "queued"}, headers=editor).json()
    assert [job["id"] for job in queued] == [second["id"]]


def test_an_unknown_job_is_a_404(client, editor):
    assert client.get("/api/v1/jobs/" + "0" * 32, headers=editor).status_code == 404
    assert client.post("/api/v1/jobs/" + "0" * 32 + "/cancel", headers=editor).status_code == 404


def test_a_predict_job_writes_a_downloadable_file_of_predictions(trained):
    workspace, dataset, editor = trained
    client = TestClient(create_server_app(workspace, ServerConfig()))
    job = client.post("/api/v1/jobs", headers=editor,
                      json={"kind": "predict", "model": "credit:1",
                            "dataset": dataset}).json()
    run_queued_jobs(workspace)
    done = client.get(f"/api/v1/jobs/{job['id']}", headers=editor).json()
    assert done["status"] == "succeeded", done["error"]
    assert done["result"]["rows"] == 1000
    output = client.get(f"/api/v1/jobs/{job['id']}/output", headers=editor)
    assert output.status_code == 200
    predictions = pd.read_csv(io.BytesIO(output.content))
    assert list(predictions.columns) == ["prediction", "bad", "good"]
    assert len(predictions) == 1000


@pytest.mark.slow  # explains 100 rows' predictions: a few seconds
def test_a_predict_job_asked_to_explain_writes_each_rows_top_contributions(trained, tmp_path):
    workspace, _, editor = trained
    # 100 rows, not the 1,000 of the shared upload: each row's explanation costs the same
    pd.read_csv(CREDIT).head(100).to_csv(tmp_path / "credit_100.csv", index=False)
    client = TestClient(create_server_app(workspace, ServerConfig()))
    job = client.post("/api/v1/jobs", headers=editor,
                      json={"kind": "predict", "model": "credit:1",
                            "dataset": upload(workspace, tmp_path / "credit_100.csv"),
                            "explain_top_k": 2}).json()
    run_queued_jobs(workspace)
    done = client.get(f"/api/v1/jobs/{job['id']}", headers=editor).json()
    assert done["status"] == "succeeded", done["error"]
    output = client.get(f"/api/v1/jobs/{job['id']}/output", headers=editor)
    predictions = pd.read_csv(io.BytesIO(output.content))
    assert len(predictions) == 100
    assert list(predictions.columns)[3:] == [
        "explain.base_value", "explain.1.feature", "explain.1.value", "explain.1.contribution",
        "explain.2.feature", "explain.2.value", "explain.2.contribution"]


def test_explaining_a_clustering_models_predictions_is_refused_before_it_is_queued(tmp_path):
    import trainforge as tf

    workspace = Workspace(tmp_path / "home")
    tf.cluster(str(EXAMPLES / "wine.csv"), name="segments", k=3, time_budget=10,
               workspace=workspace)
    token, _ = access.create_token(workspace, name="editor", role="editor")
    client = TestClient(create_server_app(workspace, ServerConfig()))
    answer = client.post("/api/v1/jobs", headers=bearer(token),
                         json={"kind": "predict", "model": "segments:1",
                               "dataset": upload(workspace, EXAMPLES / "wine.csv"),
                               "explain_top_k": 3})
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("explain_top_k: segments:1 cannot be explained")
    assert list_jobs(workspace) == []


@pytest.mark.parametrize("top_k", [0, 51, "five"])
def test_a_predict_job_with_an_explain_top_k_out_of_bounds_is_a_422_naming_it(trained, top_k):
    workspace, dataset, editor = trained
    client = TestClient(create_server_app(workspace, ServerConfig()))
    answer = client.post("/api/v1/jobs", headers=editor,
                         json={"kind": "predict", "model": "credit:1", "dataset": dataset,
                               "explain_top_k": top_k})
    assert answer.status_code == 422 and "explain_top_k" in answer.text


def test_a_predict_job_asked_to_explain_on_the_ray_backend_is_refused_before_it_is_queued(
        trained):
    workspace, dataset, editor = trained
    client = TestClient(create_server_app(workspace, ServerConfig()))
    before = len(list_jobs(workspace))
    answer = client.post("/api/v1/jobs", headers=editor,
                         json={"kind": "predict", "model": "credit:1", "dataset": dataset,
                               "backend": "ray", "explain_top_k": 3})
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("explain_top_k: explanations are written by the "
                                              "local backend only")
    assert len(list_jobs(workspace)) == before


def test_an_evaluate_job_puts_the_metrics_in_its_result(trained):
    workspace, dataset, editor = trained
    client = TestClient(create_server_app(workspace, ServerConfig()))
    job = client.post("/api/v1/jobs", headers=editor,
                      json={"kind": "evaluate", "model": "credit:1", "dataset": dataset}).json()
    run_queued_jobs(workspace)
    done = client.get(f"/api/v1/jobs/{job['id']}", headers=editor).json()
    assert done["status"] == "succeeded", done["error"]
    assert 0.5 < done["result"]["metrics"]["roc_auc"] <= 1.0
    assert client.get(f"/api/v1/jobs/{job['id']}/output", headers=editor).status_code == 404


def test_a_job_for_a_model_that_does_not_exist_is_refused_with_a_422_naming_the_field(trained):
    workspace, dataset, editor = trained
    client = TestClient(create_server_app(workspace, ServerConfig()))
    answer = client.post("/api/v1/jobs", headers=editor,
                         json={"kind": "predict", "model": "nope:1", "dataset": dataset})
    assert answer.status_code == 422 and answer.json()["detail"].startswith("model: ")
