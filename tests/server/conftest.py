"""A platform app over a fresh workspace, and tokens of each role for it."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests._paths import EXAMPLES
from tests.server._ui import log_in

from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app
from trainforge.store import access
from trainforge.workspace import Workspace


@pytest.fixture
def workspace(new_workspace, tmp_path: Path) -> Workspace:
    return new_workspace(tmp_path / "home")  # tests/conftest.py: a copy of a migrated store


@pytest.fixture
def client(workspace: Workspace) -> TestClient:
    return TestClient(create_server_app(workspace, ServerConfig()))


@pytest.fixture
def tokens(workspace: Workspace) -> dict[str, str]:
    """One token per role: {"viewer": "tf_…", "editor": …, "admin": …}."""
    return {role: access.create_token(workspace, name=f"{role}-token", role=role)[0]
            for role in ("viewer", "editor", "admin")}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def trained(trained_home: Path, tmp_path: Path) -> Workspace:
    """This test's own copy of ``trained_home`` (tests/conftest.py): it may promote, deploy and
    delete freely."""
    home = tmp_path / "trained-home"
    shutil.copytree(trained_home, home)
    return Workspace(home)


@pytest.fixture
def trained_client(trained: Workspace) -> TestClient:
    return TestClient(create_server_app(trained, ServerConfig()))


@pytest.fixture
def trained_tokens(trained: Workspace) -> dict[str, str]:
    return {role: access.create_token(trained, name=f"{role}-token", role=role)[0]
            for role in ("viewer", "editor", "admin")}


@pytest.fixture
def viewer(client, workspace) -> TestClient:
    """``client``, signed in to the web UI as a viewer (ana): for the pages' tests."""
    access.create_user(workspace, username="ana", password="correct horse battery",
                       role="viewer")
    assert log_in(client, "ana", "correct horse battery").status_code == 303
    return client


@pytest.fixture
def editor(trained_client, trained) -> TestClient:
    """``trained_client``, signed in to the web UI as an editor (eve), its htmx headers set
    (the CSRF token): for the web forms' tests."""
    access.create_user(trained, username="eve", password="correct horse battery",
                       role="editor")
    log_in(trained_client, "eve", "correct horse battery")
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', trained_client.get("/").text).group(1)
    trained_client.headers.update({"X-CSRF-Token": csrf, "HX-Request": "true"})
    return trained_client


def credit_records(n_rows: int) -> list[dict[str, object]]:
    """The first ``n_rows`` rows of examples/credit_g.csv as predict records (no target)."""
    with open(EXAMPLES / "credit_g.csv", newline="") as handle:
        rows = [row for _, row in zip(range(n_rows), csv.DictReader(handle), strict=False)]
    for row in rows:
        row.pop("class")
    return [{k: float(v) if v.replace(".", "", 1).isdigit() else v for k, v in row.items()}
            for row in rows]
