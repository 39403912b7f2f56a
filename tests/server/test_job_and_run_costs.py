"""What a job or run cost: its worker's CPU-seconds and peak memory, recorded as it ends,
and shown by the jobs and runs APIs with money only when the server has a rate."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests._paths import EXAMPLES
from tests.server._jobs import EDITOR, upload
from tests.server.conftest import bearer

from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app
from trainforge.server.job_requests import PredictJob, submit
from trainforge.server.workers import Worker
from trainforge.store import access
from trainforge.store import jobs as job_store
from trainforge.store.resources import Used
from trainforge.workspace import Workspace


def predicted(workspace: Workspace) -> str:
    """The id of a predict job of credit:1, run to its end by a worker in this process."""
    request = PredictJob(kind="predict", model="credit:1",
                         dataset=upload(workspace, EXAMPLES / "credit_g.csv"))
    job_id = str(submit(workspace, request, EDITOR)["id"])
    Worker(workspace, name="test-worker", heartbeat_s=0.2).run_forever(max_jobs=1)
    return job_id


def test_a_finished_job_records_the_cpu_seconds_and_peak_memory_its_worker_used(trained):
    job = job_store.get_job(trained, predicted(trained))
    assert job["status"] == "succeeded", job["error"]
    assert job["cpu_s"] is not None and job["cpu_s"] > 0
    assert job["peak_memory_mb"] is not None and job["peak_memory_mb"] > 10  # Python alone is


def test_a_job_requeued_when_its_worker_stopped_keeps_that_attempts_cost(workspace):
    job_id = job_store.submit_job(workspace, kind="predict", config={})
    job_store.claim_job(workspace, worker="w1")
    job_store.release_job(workspace, job_id, worker="w1", used=Used(cpu_s=2.0,
                                                                    peak_memory_mb=300.0))
    job_store.claim_job(workspace, worker="w2")
    job_store.finish_job(workspace, job_id, status="succeeded", worker="w2",
                         used=Used(cpu_s=1.5, peak_memory_mb=200.0))
    job = job_store.get_job(workspace, job_id)
    assert (job["cpu_s"], job["peak_memory_mb"]) == (3.5, 300.0)


def job_answer(workspace: Workspace, config: ServerConfig) -> dict[str, object]:
    job_id = job_store.submit_job(workspace, kind="predict", config={})
    job_store.claim_job(workspace, worker="w")
    job_store.finish_job(workspace, job_id, status="succeeded", worker="w",
                         used=Used(cpu_s=90.0, peak_memory_mb=250.0))
    token, _ = access.create_token(workspace, name="viewer", role="viewer")
    client = TestClient(create_server_app(workspace, config))
    answer: dict[str, object] = client.get(f"/api/v1/jobs/{job_id}",
                                           headers=bearer(token)).json()
    return answer


def test_a_job_answer_shows_cpu_seconds_and_peak_memory_and_no_cost_without_a_rate(workspace):
    answer = job_answer(workspace, ServerConfig())
    assert (answer["cpu_s"], answer["peak_memory_mb"]) == (90.0, 250.0)
    assert (answer["cost"], answer["currency"]) == (None, None)


def test_a_job_costs_its_cpu_hours_at_the_servers_rate(workspace):
    answer = job_answer(workspace, ServerConfig(cost_per_cpu_hour=0.4, cost_currency="EUR"))
    assert answer["cost"] == pytest.approx(90.0 / 3600 * 0.4)
    assert answer["currency"] == "EUR"


def test_runs_answers_cost_their_cpu_hours_at_the_servers_rate(workspace):
    from trainforge.store import finish_run, start_run

    run_id = start_run(workspace, kind="train", config={}, dataset_id=None)
    finish_run(workspace, run_id, status="succeeded", metrics={}, peak_memory_mb=200.0,
               cpu_s=7200.0)
    token, _ = access.create_token(workspace, name="viewer", role="viewer")
    client = TestClient(create_server_app(workspace, ServerConfig(cost_per_cpu_hour=0.25)))
    [listed] = client.get("/api/v1/runs", headers=bearer(token)).json()["runs"]
    shown = client.get(f"/api/v1/runs/{run_id}", headers=bearer(token)).json()
    assert listed["cost"] == shown["cost"] == pytest.approx(0.5)
    assert listed["currency"] == shown["currency"] == "USD"
    assert (shown["cpu_s"], shown["peak_memory_mb"]) == (7200.0, 200.0)
