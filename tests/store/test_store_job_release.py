"""A worker stopping with the server gives its job back: queued again, the attempt uncounted."""

from __future__ import annotations

from trainforge.store import jobs
from trainforge.workspace import Workspace


def test_a_released_job_is_queued_again_without_counting_the_attempt(tmp_path):
    workspace = Workspace(tmp_path / "home")
    job_id = jobs.submit_job(workspace, kind="train", config={})
    jobs.claim_job(workspace, worker="w1")
    assert jobs.release_job(workspace, job_id, worker="w1")
    job = jobs.get_job(workspace, job_id)
    assert (job["status"], job["attempts"], job["worker"]) == ("queued", 0, None)
    assert jobs.claim_job(workspace, worker="w2")["attempts"] == 1


def test_only_the_worker_holding_a_job_may_release_it(tmp_path):
    workspace = Workspace(tmp_path / "home")
    job_id = jobs.submit_job(workspace, kind="train", config={})
    jobs.claim_job(workspace, worker="w1")
    assert not jobs.release_job(workspace, job_id, worker="w2")
    assert jobs.get_job(workspace, job_id)["status"] == "running"
