"""The platform journey with its metadata on PostgreSQL: a real server (uvicorn on
127.0.0.1) and its worker process, both on a throwaway cluster: sign in, upload, train (a
job), deploy, predict, batch predict (a job)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from tests._paths import EXAMPLES
from tests.server._jobs import HEARTBEAT_S, STALE_AFTER_S, running_app, wait_for
from tests.server.conftest import credit_records
from tests.store.postgres_cluster import postgres_workspace

from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app
from trainforge.server.supervisor import Supervisor
from trainforge.store import access
from trainforge.workspace import Workspace

pytestmark = pytest.mark.slow  # a worker process and real training

CREDIT = EXAMPLES / "credit_g.csv"


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
            form = client.get("/login").text
            login_token = re.search(r'name="login_token" value="([^"]+)"', form).group(1)
            client.post("/login", data={"username": "eve", "password": "correct horse battery",
                                        "login_token": login_token, "next": "/"})
            csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/").text).group(1)
            client.headers["X-CSRF-Token"] = csrf
            yield client
    finally:
        supervisor.stop(timeout_s=15)


def finished(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    queued = client.post("/api/v1/jobs", json=body)
    assert queued.status_code == 201, queued.text
    job_id = queued.json()["id"]

    def ended() -> dict[str, Any] | None:
        job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}").json()
        return job if job["status"] in ("succeeded", "failed") else None

    done = wait_for(ended, timeout_s=120, what=f"{body['kind']} job {job_id}")
    assert done["status"] == "succeeded", done["error"]
    return done


def test_the_server_journey_runs_on_postgres(signed_in: httpx.Client):
    client = signed_in
    assert client.get("/api/v1/me").json()["name"] == "eve"
    with CREDIT.open("rb") as handle:
        dataset = client.post("/api/v1/datasets", files={"file": (CREDIT.name, handle)}
                              ).json()["id"]
    trained = finished(client, {"kind": "train", "dataset": dataset, "target": "class",
                                "algorithm": "linear", "trials": 1, "name": "credit"})
    assert trained["result"]["model"] == "credit:1"
    assert client.post("/api/v1/deployments", json={"model": "credit:1"}).status_code == 201
    answer = client.post("/v1/models/credit/predict", json={"records": credit_records(3)})
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == 3
    batch = finished(client, {"kind": "predict", "model": "credit:1", "dataset": dataset})
    output = client.get(f"/api/v1/jobs/{batch['id']}/output")
    assert len(pd.read_csv(io.BytesIO(output.content))) == 1000
