"""A server stopping mid-job: its worker interrupts the job and puts it back in the queue; a
server killed outright leaves no worker behind."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from tests.server._jobs import HEARTBEAT_S, STALE_AFTER_S, slow_training, trial_scores, wait_for

from trainforge.server.supervisor import Supervisor
from trainforge.store import jobs as job_store
from trainforge.workspace import Workspace

pytestmark = pytest.mark.slow  # each test kills a worker or its server and waits


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


def test_a_worker_whose_server_was_killed_stops_instead_of_lingering(tmp_path):
    # a stand-in server that starts one worker, says its pid, and is then killed with -9
    starter = ("import os, subprocess, sys, time\n"
               "worker = subprocess.Popen([sys.executable, '-m', 'trainforge.server.workers', "
               "'--home', sys.argv[1], '--poll-s', '0.1', '--parent-pid', str(os.getpid())], "
               "start_new_session=True, stderr=open(sys.argv[2], 'w'))\n"
               "print(worker.pid, flush=True)\n"
               "time.sleep(120)\n")
    said = tmp_path / "worker.log"
    server = subprocess.Popen([sys.executable, "-c", starter, str(tmp_path / "home"), str(said)],
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    worker_pid = int(server.stdout.readline())
    server.kill()
    server.wait(timeout=10)
    wait_for(lambda: not _alive(worker_pid), timeout_s=30, what="the orphaned worker to stop")
    assert "the server that started it is gone; stopping" in said.read_text()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
