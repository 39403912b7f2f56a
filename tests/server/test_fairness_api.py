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
