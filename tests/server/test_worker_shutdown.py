"""A server stopping mid-job: its worker interrupts the job and puts it back in the queue."""

from __future__ import annotations

from tests.server._jobs import HEARTBEAT_S, STALE_AFTER_S, slow_training, trial_scores, wait_for

from trainforge.server.supervisor import Supervisor
from trainforge.store import jobs as job_store
from trainforge.workspace import Workspace


def test_stopping_the_supervisor_requeues_a_running_job_without_counting_the_attempt(tmp_path):
    workspace = Workspace(tmp_path / "home")
    supervisor = Supervisor(workspace, workers=1, heartbeat_s=HEARTBEAT_S,
                            stale_after_s=STALE_AFTER_S)
    supervisor.start()
    try:
        job_id = slow_training(workspace, trials=200)
        wait_for(lambda: trial_scores(workspace, job_id) >= 1, timeout_s=40,
                 what="the first trial of the job")
    finally:
        supervisor.stop(timeout_s=15)
    job = job_store.get_job(workspace, job_id)
    assert (job["status"], job["attempts"], job["worker"]) == ("queued", 0, None)
    assert job["run_id"] is not None  # the next claim resumes this run
    texts = [line["text"] for line in job_store.read_log(workspace, job_id)]
    assert any("stopped with the server; job requeued" in text for text in texts)
