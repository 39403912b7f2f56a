"""`GET /api/v1/models/{name}/versions/{version}/fairness`: a version's fairness.json, beside
its manifest and report."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests._paths import EXAMPLES

import trainforge as tf
from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app
from trainforge.store import access
from trainforge.workspace import Workspace


@pytest.fixture(scope="module")
def home(trained_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server tests' credit:1 and :2 (no sensitive features), and credit:3 with
    personal_status."""
    home = tmp_path_factory.mktemp("fairness-api") / "home"
    shutil.copytree(trained_home, home)
    workspace = Workspace(home)
    tf.train(EXAMPLES / "credit_g.csv", target="class", name="credit", trials=1,
             algorithm="linear", sensitive_features=["personal_status"], workspace=workspace)
    workspace.close()
    return home


@pytest.fixture(scope="module")
def viewer(home: Path) -> TestClient:
    workspace = Workspace(home)
    token = access.create_token(workspace, name="viewer-token", role="viewer")[0]
    client = TestClient(create_server_app(workspace, ServerConfig()))
    client.headers.update({"Authorization": f"Bearer {token}"})
    return client


def test_a_versions_fairness_assessment_is_served_as_json(viewer):
    found = viewer.get("/api/v1/models/credit/versions/latest/fairness").json()
    assert found["sensitive_features"] == ["personal_status"]
    assert {g["feature"] for g in found["groups"]} == {"personal_status"}


def test_a_version_trained_without_sensitive_features_has_no_assessment_a_404(viewer):
    answer = viewer.get("/api/v1/models/credit/versions/1/fairness")
    assert answer.status_code == 404 and "sensitive_features" in answer.json()["detail"]


def test_the_fairness_assessment_needs_a_signed_in_viewer(home):
    client = TestClient(create_server_app(Workspace(home), ServerConfig()))
    assert client.get("/api/v1/models/credit/versions/3/fairness").status_code == 401


def upload(editor: TestClient) -> str:
    with open(EXAMPLES / "credit_g.csv", "rb") as handle:
        return str(editor.post("/ui/datasets", files={"file": ("credit.csv", handle)}
                               ).headers["hx-redirect"].rsplit("/", 1)[1])


def test_the_training_forms_fairness_choices_reach_the_queued_job(editor, trained):
    from trainforge.store import jobs

    dataset = upload(editor)
    assert 'name="fairness_constraint"' in editor.get("/train").text
    answer = editor.post("/ui/jobs", data={
        "dataset": dataset, "target": "class", "sensitive_features": "personal_status",
        "sensitive_as_features": "false", "fairness_constraint": "equalized_odds"})
    queued = jobs.get_job(trained, answer.headers["hx-redirect"].rsplit("/", 1)[1])
    assert {k: queued["config"]["train"][k] for k in (
        "sensitive_features", "sensitive_as_features", "fairness_constraint")} == {
        "sensitive_features": ["personal_status"], "sensitive_as_features": False,
        "fairness_constraint": "equalized_odds"}


def test_a_sensitive_column_the_upload_lacks_is_refused_before_the_job_is_queued(editor):
    answer = editor.post("/ui/jobs", data={"dataset": upload(editor), "target": "class",
                                           "sensitive_features": "personal_statu"})
    assert "sensitive_features" in answer.text and "personal_status" in answer.text
