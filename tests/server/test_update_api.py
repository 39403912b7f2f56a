"""`POST /api/v1/models/{name}/update` on a real server (uvicorn on 127.0.0.1, a worker
process): checked whole before it is queued, then run by a worker as an ``update`` job whose
new version is the model's challenger."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.jobs._online import labelled
from tests.monitoring._served import copy_home
from tests.server._jobs import HEARTBEAT_S, STALE_AFTER_S, running_app, wait_for

from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app
from trainforge.server.supervisor import Supervisor
from trainforge.store import access
from trainforge.workspace import Workspace


@contextmanager
def _server(workspace: Workspace, *, workers: int) -> Iterator[httpx.Client]:
    token, _ = access.create_token(workspace, name="editor", role="editor")
    supervisor = Supervisor(workspace, workers=workers, heartbeat_s=HEARTBEAT_S,
                            stale_after_s=STALE_AFTER_S)
    supervisor.start()
    try:
        with running_app(create_server_app(workspace, ServerConfig())) as url, \
                httpx.Client(base_url=url, timeout=30,
                             headers={"Authorization": f"Bearer {token}"}) as client:
            yield client
    finally:
        supervisor.stop(timeout_s=15)


@pytest.mark.slow  # a worker process, as the other job kinds' journeys
def test_an_update_runs_as_a_job_on_a_worker_and_registers_the_challenger(
        churn_home_of: Callable[[str], Path], tmp_path: Path):
    workspace = copy_home(churn_home_of("online_linear"), tmp_path)
    labelled(workspace, n_rows=20)
    with _server(workspace, workers=1) as client:
        answer = client.post("/api/v1/models/churn/update", json={"rounds": 3})
        assert answer.status_code == 202, answer.text
        job_id = answer.json()["id"]

        def ended() -> dict[str, Any] | None:
            job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}").json()
            return job if job["status"] in ("succeeded", "failed") else None

        job = wait_for(ended, timeout_s=60, what=f"update job {job_id}")
    assert (job["kind"], job["status"], job["result"]["model"], job["result"]["rows"]) == (
        "update", "succeeded", "churn:2", 20)
    assert workspace.registry.resolve("churn@challenger") == ("churn", 2)


@pytest.mark.slow  # a whole training first: seconds (measured on the loaded VM, 2026-12-06)
def test_an_update_of_a_model_that_cannot_learn_in_place_is_refused_before_queueing(
        churn_home: Path, tmp_path: Path):
    workspace = copy_home(churn_home, tmp_path)
    with _server(workspace, workers=0) as client:
        answer = client.post("/api/v1/models/churn/update")
        queued = client.get("/api/v1/jobs").json()
    assert (answer.status_code, queued) == (409, [])
    assert "(linear)" in answer.json()["detail"]
