"""`/health` and `/ready`: what a load balancer or an orchestrator watches, without a token."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from fastapi.testclient import TestClient
from tests.server._jobs import HEARTBEAT_S, STALE_AFTER_S, wait_for

from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app
from trainforge.server.supervisor import Supervisor
from trainforge.store import jobs as job_store
from trainforge.store.clock import utc_now
from trainforge.store.tables import jobs


def test_health_answers_ok_without_a_token(client):
    answer = client.get("/health")
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})


def test_ready_answers_ready_when_the_store_answers_and_no_job_is_silent(client):
    answer = client.get("/ready")
    assert (answer.status_code, answer.json()["status"]) == (200, "ready")


def test_ready_is_a_503_when_the_store_does_not_answer(client, workspace):
    workspace.engine.dispose()
    for name in ("trainforge.db", "trainforge.db-wal", "trainforge.db-shm"):
        (workspace.home / name).unlink(missing_ok=True)
    (workspace.home / "trainforge.db").write_bytes(b"this is not a database" * 100)
    answer = client.get("/ready")
    assert answer.status_code == 503
    assert answer.json() == {"status": "unavailable", "reason": "the store does not answer"}


def test_ready_is_a_503_when_a_running_job_stopped_sending_heartbeats(client, workspace):
    job_id = job_store.submit_job(workspace, kind="train", config={})
    job_store.claim_job(workspace, worker="gone")
    with workspace.engine.begin() as connection:
        connection.execute(sa.update(jobs).where(jobs.c.id == job_id).values(
            heartbeat_at=utc_now() - timedelta(hours=1)))
    answer = client.get("/ready")
    assert answer.status_code == 503 and "heartbeats" in answer.json()["reason"]


def test_ready_follows_the_worker_supervisor_of_the_server(workspace):
    supervisor = Supervisor(workspace, workers=1, heartbeat_s=HEARTBEAT_S,
                            stale_after_s=STALE_AFTER_S)
    client = TestClient(create_server_app(workspace, ServerConfig(), supervisor=supervisor))
    assert client.get("/ready").status_code == 503  # not started yet
    supervisor.start()
    try:
        wait_for(lambda: client.get("/ready").status_code == 200, timeout_s=10,
                 what="ready with the workers started")
    finally:
        supervisor.stop(timeout_s=15)
    answer = client.get("/ready")
    assert answer.status_code == 503 and answer.json()["reason"] == ("the job workers are not "
                                                                     "running")


def test_health_and_ready_are_documented_in_openapi(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "get" in paths["/health"]
    assert {"200", "503"} <= set(paths["/ready"]["get"]["responses"])
