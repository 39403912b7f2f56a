"""Datasets over HTTP: a streamed, size-limited upload becomes a profiled dataset version."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient
from tests._paths import EXAMPLES
from tests.server.conftest import bearer

from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app

CREDIT = EXAMPLES / "credit_g.csv"


def upload(client: TestClient, token: str, name: str, content: bytes):
    return client.post("/api/v1/datasets", headers=bearer(token),
                       files={"file": (name, content, "text/csv")})


def uploads_dir(workspace):
    return workspace.artifacts / "uploads"


def left_on_disk(workspace) -> list:
    found = uploads_dir(workspace)
    return sorted(found.rglob("*")) if found.exists() else []


def chunked_form(name: str, content: bytes, *, chunk_bytes: int = 4096):
    """A multipart body sent in chunks without a Content-Length, as a streaming client does."""
    head = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + name.encode()
            + b"\"\r\nContent-Type: text/csv\r\n\r\n")
    body = head + content + b"\r\n--b--\r\n"
    return (body[i:i + chunk_bytes] for i in range(0, len(body), chunk_bytes))


def test_an_uploaded_csv_is_answered_with_its_id_size_hash_and_columns(client, tokens):
    content = CREDIT.read_bytes()
    answer = upload(client, tokens["editor"], "credit_g.csv", content)
    assert answer.status_code == 201
    body = answer.json()
    assert (body["filename"], body["size_bytes"], body["sha256"]) == (
        "credit_g.csv", len(content), hashlib.sha256(content).hexdigest())
    assert (body["n_rows"], body["n_columns"]) == (1000, 21)
    assert body["id"] in {d["id"] for d in client.get("/api/v1/datasets",
                                                       headers=bearer(tokens["viewer"])).json()}
    assert "class" in body["columns"] and body["column_kinds"]["age"] == "numeric"


def test_an_uploaded_dataset_is_listed_shown_and_profiled(client, tokens):
    made = upload(client, tokens["editor"], "credit_g.csv", CREDIT.read_bytes()).json()
    viewer = bearer(tokens["viewer"])
    assert [d["id"] for d in client.get("/api/v1/datasets", headers=viewer).json()] == [
        made["id"]]
    assert client.get(f"/api/v1/datasets/{made['id']}", headers=viewer).json() == made
    profile = client.get(f"/api/v1/datasets/{made['id']}/profile", headers=viewer).json()
    assert profile["n_rows"] == 1000 and len(profile["columns"]) == 21


def test_a_streamed_upload_over_the_limit_is_a_413_and_leaves_nothing_on_disk(workspace,
                                                                              tokens):
    client = TestClient(create_server_app(workspace, ServerConfig(max_upload_mb=0.01)))
    answer = client.post("/api/v1/datasets", content=chunked_form("credit.csv", CREDIT.read_bytes()),
                         headers={**bearer(tokens["editor"]),
                                  "Content-Type": "multipart/form-data; boundary=b"})
    assert answer.status_code == 413 and "upload limit" in answer.json()["detail"]
    assert left_on_disk(workspace) == []
    assert client.get("/api/v1/datasets", headers=bearer(tokens["viewer"])).json() == []


def test_an_upload_declared_over_the_limit_is_refused_before_its_body_is_read(workspace, tokens):
    client = TestClient(create_server_app(workspace, ServerConfig(max_upload_mb=1)))
    answer = client.post("/api/v1/datasets", content=b"x" * 10,
                         headers={**bearer(tokens["editor"]), "Content-Length": str(2**30),
                                  "Content-Type": "multipart/form-data; boundary=b"})
    assert answer.status_code == 413
    assert left_on_disk(workspace) == []


def test_a_path_traversal_file_name_is_kept_inside_the_upload_directory(client, tokens,
                                                                        workspace):
    body = upload(client, tokens["editor"], "../../x.csv", CREDIT.read_bytes()).json()
    assert body["filename"] == "x.csv"
    assert (uploads_dir(workspace) / body["id"] / "x.csv").is_file()
    assert not (workspace.artifacts / "x.csv").exists() and not (workspace.home / "x.csv").exists()


def test_a_file_that_is_not_a_table_is_a_422_naming_it_and_nothing_is_kept(client, tokens,
                                                                          workspace):
    answer = upload(client, tokens["editor"], "notes.txt", b"\x00\x01\x02 not a table \xff\xfe")
    assert answer.status_code == 422 and "'notes.txt'" in answer.json()["detail"]
    assert str(workspace.home) not in answer.json()["detail"]
    assert left_on_disk(workspace) == []


def test_a_form_without_the_file_field_says_which_field_to_send(client, tokens):
    answer = client.post("/api/v1/datasets", headers=bearer(tokens["editor"]),
                         files={"data": ("a.csv", b"a,b\n1,2\n")})
    assert answer.status_code == 422 and "'file'" in answer.json()["detail"]


@pytest.mark.parametrize("role,status", [(None, 401), ("viewer", 403)])
def test_uploading_needs_an_editor_token(client, tokens, role, status):
    headers = bearer(tokens[role]) if role else {}
    answer = client.post("/api/v1/datasets", headers=headers,
                         files={"file": ("a.csv", b"a,b\n1,2\n3,4\n")})
    assert answer.status_code == status


def test_reading_datasets_needs_a_token(client):
    assert client.get("/api/v1/datasets").status_code == 401


def test_an_unknown_dataset_is_a_404(client, tokens):
    answer = client.get("/api/v1/datasets/0123abcd/profile", headers=bearer(tokens["viewer"]))
    assert answer.status_code == 404 and "GET /api/v1/datasets" in answer.json()["detail"]


def test_a_browser_session_uploads_with_its_csrf_token_as_a_form_field(client, workspace):
    from trainforge.server.auth import SESSION_COOKIE
    from trainforge.store import access

    access.create_user(workspace, username="ana", password="correct horse battery",
                       role="editor")
    secret, csrf = access.create_session(workspace, "ana")
    client.cookies.set(SESSION_COOKIE, secret)
    answer = client.post("/api/v1/datasets", data={"csrf_token": csrf},
                         files={"file": ("credit.csv", CREDIT.read_bytes(), "text/csv")})
    assert answer.status_code == 201 and answer.json()["uploaded_by"] == "ana"
    assert answer.json()["size_bytes"] == CREDIT.stat().st_size
