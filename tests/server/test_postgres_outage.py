"""Postgres going away and coming back under a running server and its workers: requests
answer a prompt 503 saying the database is unreachable, workers keep or requeue their jobs,
and everything carries on once it is back, with no restart."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from tests.server._jobs import running_app, wait_for
from tests.store.postgres_cluster import Cluster, running_cluster

from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app
from trainforge.server.workers import Worker
from trainforge.store import access
from trainforge.store import jobs as job_store
from trainforge.workspace import Workspace

# stops and restarts a PostgreSQL cluster under a running server: an outage module, like
# kill-and-resume (~9 s serially at load 5-10)
pytestmark = pytest.mark.slow

PASSWORD = "not-for-clients"  # the cluster trusts local users; a URL may still carry one


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A cluster of this module's own: its tests stop it, the store tests' one stays up."""
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
def workspace(cluster: Cluster, tmp_path: Path) -> Iterator[Workspace]:
    url = sa.make_url(cluster.url).set(password=PASSWORD).render_as_string(
        hide_password=False)
    ws = Workspace(tmp_path / "home", database_url=url)
    try:
        yield ws
    finally:
        if not (cluster.data / "postmaster.pid").exists():
            cluster.start()
        with ws.engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        ws.close()


@pytest.fixture
def server(workspace: Workspace) -> Iterator[httpx.Client]:
    token, _ = access.create_token(workspace, name="editor", role="editor")
    with running_app(create_server_app(workspace, ServerConfig())) as url, \
            httpx.Client(base_url=url, timeout=15,
                         headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def test_a_request_while_postgres_is_down_gets_a_prompt_503_without_the_password(
        cluster: Cluster, server: httpx.Client):
    cluster.stop()
    started = time.monotonic()
    answer = server.get("/api/v1/jobs")
    assert (answer.status_code, time.monotonic() - started < 5) == (503, True)
    assert "unreachable" in answer.json()["detail"]
    assert PASSWORD not in answer.text


def test_the_server_answers_again_once_postgres_is_back_without_a_restart(
        cluster: Cluster, server: httpx.Client):
    assert server.get("/api/v1/jobs").status_code == 200
    cluster.stop()
    assert server.get("/api/v1/jobs").status_code == 503
    cluster.start()
    assert server.get("/api/v1/jobs").status_code == 200


def test_an_idle_worker_keeps_polling_while_postgres_is_down_then_runs_the_next_job(
        cluster: Cluster, workspace: Workspace):
    worker = Worker(workspace, name="idle", poll_s=0.05)
    polling = threading.Thread(target=worker.run_forever, kwargs={"max_jobs": 1}, daemon=True)
    polling.start()
    cluster.stop()
    time.sleep(1.5)  # a claim or two meets the stopped database
    alive_while_down = polling.is_alive()
    cluster.start()
    job_id = job_store.submit_job(workspace, kind="no-such-kind", config={})
    polling.join(timeout=20)
    assert alive_while_down
    assert job_store.get_job(workspace, job_id)["worker"] == "idle"


def test_a_job_that_loses_postgres_goes_back_to_the_queue_once_it_is_back(
        cluster: Cluster, workspace: Workspace):
    job_id = job_store.submit_job(workspace, kind="no-such-kind", config={})
    worker = Worker(workspace, name="busy", heartbeat_s=60)
    job = job_store.claim_job(workspace, worker="busy")
    cluster.stop()
    running = threading.Thread(target=worker.run_one, args=(job,), daemon=True)
    running.start()
    time.sleep(1.5)  # the job meets the stopped database; recording its end waits
    cluster.start()
    running.join(timeout=20)
    requeued = wait_for(lambda: job_store.get_job(workspace, job_id), timeout_s=5, what=job_id)
    assert (requeued["status"], requeued["worker"], requeued["attempts"]) == ("queued", None, 0)
