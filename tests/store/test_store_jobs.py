"""The job queue in the store: claimed once, heartbeats, requeue on a dead worker, cancel."""

from __future__ import annotations

import threading
import time

import pytest

from trainforge.errors import JobNotFound
from trainforge.store import jobs
from trainforge.workspace import Workspace


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace(tmp_path)


def test_jobs_are_claimed_oldest_first_and_the_queue_then_runs_dry(ws):
    first = jobs.submit_job(ws, kind="train", config={"n": 1})
    second = jobs.submit_job(ws, kind="train", config={"n": 2})
    assert jobs.claim_job(ws, worker="w1")["id"] == first
    assert jobs.claim_job(ws, worker="w1")["id"] == second
    assert jobs.claim_job(ws, worker="w1") is None


def test_two_workers_racing_never_claim_the_same_job(ws):
    submitted = {jobs.submit_job(ws, kind="train", config={}) for _ in range(20)}
    claimed: list[str] = []

    def work(name: str) -> None:
        while (job := jobs.claim_job(ws, worker=name)) is not None:
            claimed.append(job["id"])

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(submitted)


def test_a_job_whose_worker_stops_beating_is_requeued_and_claimed_again(ws):
    job_id = jobs.submit_job(ws, kind="train", config={})
    jobs.claim_job(ws, worker="dead")
    time.sleep(0.05)
    assert jobs.requeue_stale(ws, stale_after_s=0.01) == [job_id]
    again = jobs.claim_job(ws, worker="alive")
    assert again["id"] == job_id and again["attempts"] == 2
    assert "stopped sending heartbeats; requeued" in jobs.read_log(ws, job_id)[0]["text"]


def test_a_living_worker_keeps_its_job(ws):
    job_id = jobs.submit_job(ws, kind="train", config={})
    jobs.claim_job(ws, worker="w1")
    jobs.heartbeat(ws, job_id, worker="w1")
    assert jobs.requeue_stale(ws, stale_after_s=60) == []


def test_a_job_that_keeps_losing_its_worker_fails_saying_why(ws):
    job_id = jobs.submit_job(ws, kind="train", config={})
    for attempt in range(jobs.MAX_ATTEMPTS):
        jobs.claim_job(ws, worker=f"w{attempt}")
        time.sleep(0.02)
        jobs.requeue_stale(ws, stale_after_s=0.01)
    job = jobs.get_job(ws, job_id)
    assert job["status"] == "failed" and "3 attempts" in job["error"]


def test_a_requeued_job_cannot_be_finished_by_its_old_worker(ws):
    job_id = jobs.submit_job(ws, kind="train", config={})
    jobs.claim_job(ws, worker="old")
    time.sleep(0.02)
    jobs.requeue_stale(ws, stale_after_s=0.01)
    jobs.claim_job(ws, worker="new")
    assert not jobs.finish_job(ws, job_id, status="succeeded", worker="old")
    assert jobs.finish_job(ws, job_id, status="succeeded", worker="new")


def test_cancelling_a_queued_job_is_immediate(ws):
    job_id = jobs.submit_job(ws, kind="train", config={})
    assert jobs.cancel_job(ws, job_id)["status"] == "cancelled"
    assert jobs.claim_job(ws, worker="w1") is None


def test_cancelling_a_running_job_tells_its_worker_at_the_next_heartbeat(ws):
    job_id = jobs.submit_job(ws, kind="train", config={})
    jobs.claim_job(ws, worker="w1")
    assert not jobs.heartbeat(ws, job_id, worker="w1")
    assert jobs.cancel_job(ws, job_id)["cancel_requested"]
    assert jobs.heartbeat(ws, job_id, worker="w1")


def test_the_log_is_read_in_order_from_the_last_line_seen(ws):
    job_id = jobs.submit_job(ws, kind="train", config={})
    for line in ("reading", "searching", "done"):
        jobs.append_log(ws, job_id, line)
    first = jobs.read_log(ws, job_id)
    assert [entry["text"] for entry in first] == ["reading", "searching", "done"]
    assert [e["text"] for e in jobs.read_log(ws, job_id, after=first[0]["id"])] == [
        "searching", "done"]


def test_queued_jobs_survive_reopening_the_store(tmp_path):
    job_id = jobs.submit_job(Workspace(tmp_path), kind="train", config={"target": "class"})
    reopened = Workspace(tmp_path)
    assert jobs.claim_job(reopened, worker="w1")["config"] == {"target": "class"}
    assert job_id == jobs.get_job(reopened, job_id)["id"]


def test_an_unknown_job_is_named(ws):
    with pytest.raises(JobNotFound, match="'nope'"):
        jobs.get_job(ws, "nope")
