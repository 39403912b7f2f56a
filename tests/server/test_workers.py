"""Workers as real processes under the supervisor: cancel a running job, and survive kill -9."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from tests.server._jobs import (
    HEARTBEAT_S,
    STALE_AFTER_S,
    job_status,
    slow_training,
    trial_scores,
    wait_for,
)

from trainforge.server.supervisor import Supervisor
from trainforge.store import jobs as job_store
from trainforge.store.runs import get_run, list_runs
from trainforge.workspace import Workspace


@pytest.fixture
def workspace(tmp_path) -> Workspace:
    return Workspace(tmp_path / "home")


@pytest.fixture
def supervisor(workspace) -> Iterator[Supervisor]:
    running = Supervisor(workspace, workers=1, heartbeat_s=HEARTBEAT_S,
                         stale_after_s=STALE_AFTER_S)
    running.start()
    try:
        yield running
    finally:
        running.stop(timeout_s=15)


@pytest.mark.slow
def test_cancelling_a_running_job_interrupts_it_and_records_it_cancelled(workspace, supervisor):
    job_id = slow_training(workspace, trials=200)
    wait_for(lambda: trial_scores(workspace, job_id) >= 1, timeout_s=40,
             what="the first trial of the job")
    assert job_store.cancel_job(workspace, job_id)["status"] == "running"
    done = wait_for(lambda: job_status(workspace, job_id, "cancelled", "failed", "succeeded"),
                    timeout_s=20, what="the cancelled job to stop")
    assert done["status"] == "cancelled"
    assert trial_scores(workspace, job_id) < 200
    assert supervisor.restarts == 0  # the worker survived its job's interruption
    texts = [line["text"] for line in job_store.read_log(workspace, job_id)]
    assert "stopping: cancel requested" in texts


@pytest.mark.slow
def test_a_job_whose_worker_is_killed_resumes_its_run_on_another_and_succeeds(workspace,
                                                                              supervisor):
    job_id = slow_training(workspace, trials=60)  # killed after the first, resumed
    wait_for(lambda: trial_scores(workspace, job_id) >= 1, timeout_s=40,
             what="the first trial of the job")
    before = job_store.get_job(workspace, job_id)
    killed = supervisor.pids()[0]
    os.kill(killed, signal.SIGKILL)
    done = wait_for(lambda: job_status(workspace, job_id, "succeeded", "failed", "cancelled"),
                    timeout_s=120, what="the job to end on the restarted worker")
    assert done["status"] == "succeeded", done["error"]
    assert done["attempts"] == 2 and done["worker"] != before["worker"]
    assert done["run_id"] == before["run_id"] == done["result"]["run_id"]  # resumed, not anew
    assert [run["id"] for run in list_runs(workspace)] == [before["run_id"]]
    assert get_run(workspace, before["run_id"])["status"] == "succeeded"
    assert supervisor.restarts == 1 and killed not in supervisor.pids()
    texts = [line["text"] for line in job_store.read_log(workspace, job_id)]
    assert any("stopped sending heartbeats; requeued" in text for text in texts)
    assert any(f"resuming run {before['run_id']}" in text for text in texts)


def test_workers_share_the_cores_out_and_always_get_a_thread(monkeypatch):
    from trainforge.server import supervisor

    monkeypatch.setattr(supervisor.os, "cpu_count", lambda: 2)
    assert [supervisor.worker_threads(n) for n in (1, 2, 4)] == [2, 1, 1]
