"""The platform journey with its metadata on PostgreSQL: a real server (uvicorn on
127.0.0.1) and its worker process, both on a throwaway cluster: sign in, upload, train (a
job), deploy, predict, batch predict (a job)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.e2e._journey import sign_in, upload_to_batch_output
from tests.server._jobs import HEARTBEAT_S, STALE_AFTER_S, running_app
from tests.store.postgres_cluster import postgres_workspace

from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app
from trainforge.server.supervisor import Supervisor
from trainforge.store import access
from trainforge.workspace import Workspace

pytestmark = pytest.mark.slow  # a worker process and real training


@pytest.fixture
def workspace(postgres_url: str, tmp_path: Path) -> Iterator[Workspace]:
    with postgres_workspace(postgres_url, tmp_path / "home") as ws:
        yield ws


@pytest.fixture
def signed_in(workspace: Workspace) -> Iterator[httpx.Client]:
    """A client signed in through the login form as an editor, with its session's CSRF
    token set, on a server whose one worker runs jobs from the Postgres queue."""
    access.create_user(workspace, username="eve", password="correct horse battery",
                       role="editor")
    supervisor = Supervisor(workspace, workers=1, heartbeat_s=HEARTBEAT_S,
                            stale_after_s=STALE_AFTER_S)
    supervisor.start()
    try:
        with running_app(create_server_app(workspace, ServerConfig())) as url, \
                httpx.Client(base_url=url, timeout=30) as client:
            sign_in(client, username="eve", password="correct horse battery")
            yield client
    finally:
        supervisor.stop(timeout_s=15)


def test_the_server_journey_runs_on_postgres(signed_in: httpx.Client):
    client = signed_in
    assert client.get("/api/v1/me").json()["name"] == "eve"
    upload_to_batch_output(client, job_timeout_s=120)
