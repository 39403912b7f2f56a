"""Uploads through the server with artifacts on S3: the file is in the bucket before the
upload is recorded, and a worker on another machine gets it checked."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient
from tests._paths import EXAMPLES
from tests.server.conftest import bearer

from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app
from trainforge.store import access, uploads
from trainforge.workspace import Workspace

CREDIT = EXAMPLES / "credit_g.csv"


@pytest.fixture
def on_s3(s3_url, tmp_path) -> Workspace:
    return Workspace(tmp_path / "server", artifacts_url=s3_url)


def send(ws: Workspace) -> object:
    token, _ = access.create_token(ws, name="editor", role="editor")
    client = TestClient(create_server_app(ws, ServerConfig()))
    return client.post("/api/v1/datasets", headers=bearer(token),
                       files={"file": ("credit_g.csv", CREDIT.read_bytes(), "text/csv")})


def test_an_upload_reaches_a_worker_on_another_machine_through_the_bucket(on_s3, tmp_path):
    upload_id = send(on_s3).json()["id"]
    worker = Workspace(tmp_path / "worker", database_url=on_s3.database_url,
                       artifacts_url=on_s3.artifacts_url)
    fetched = uploads.upload_file(worker, uploads.get_upload(worker, upload_id))
    assert (fetched.is_relative_to(worker.artifacts), hashlib.sha256(
        fetched.read_bytes()).hexdigest()) == (True, hashlib.sha256(CREDIT.read_bytes()).hexdigest())


def test_an_upload_the_bucket_refuses_answers_503_and_records_nothing(on_s3, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-key")
    answer = send(on_s3)
    assert (answer.status_code, uploads.list_uploads(on_s3)) == (503, [])
    assert "refused the credentials" in answer.text and "not-the-secret-key" not in answer.text
