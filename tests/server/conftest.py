"""A platform app over a fresh workspace, and tokens of each role for it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app
from trainforge.store import access
from trainforge.workspace import Workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "home")


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
