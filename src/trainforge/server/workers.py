"""A worker: a process of its own that takes jobs from the queue and runs them, one at a time.

    python -m trainforge.server.workers --home ~/.trainforge --name worker-1

The supervisor starts these as subprocesses, so a worker never inherits the server's database
connections, and a worker that crashes (or is killed) takes no one else with it. While a job
runs, a thread touches its heartbeat every ``heartbeat_s``; when the store answers "stop" (the
job was cancelled, or requeued away from this worker) the thread interrupts the job the way
Ctrl-C does: a network finishes its step, saves a checkpoint, and training raises
TrainingInterrupted. SIGTERM (the server stopping) does the same, and puts the job back in the
queue for the next start instead of failing it.

The database may go away under a running worker (Postgres restarting): an idle worker keeps
polling, a job that lost the store mid-way goes back to the queue rather than failing, and
the end of a job is recorded once the store answers again (its heartbeat beats meanwhile,
so no other worker takes it).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from trainforge.errors import StoreUnavailable
from trainforge.jobs.process import own_process
from trainforge.store import jobs as job_store
from trainforge.store.jobs import JobRecord
from trainforge.store.resources import Meter, Used
from trainforge.workspace import Workspace

log = logging.getLogger(__name__)

IDLE_POLL_S = 0.5  # how long an idle worker waits before looking at the queue again
STORE_RETRY_S = 1.0  # how often a worker asks again for a store that went away


class Worker:
    """Claims and runs jobs until ``stop()`` (or SIGTERM)."""

    def __init__(self, workspace: Workspace, *, name: str, heartbeat_s: float = 5.0,
                 poll_s: float = IDLE_POLL_S, parent_pid: int | None = None) -> None:
        self.workspace, self.name = workspace, name
        self.heartbeat_s, self.poll_s = heartbeat_s, poll_s
        # the server that started this worker: if it dies (kill -9), the worker stops too
        # rather than linger beside the workers of the next start
        self.parent_pid = parent_pid
        self._stopping = threading.Event()
        self._cancelled = False  # the store said stop: the job ends as cancelled
        self._in_job = False  # a signal interrupts only a job, never the worker's own writes

    # ---- signals: Ctrl-C semantics inside a job, nothing outside one --------------------------
    def install_signals(self) -> None:
        signal.signal(signal.SIGINT, self._on_interrupt)
        signal.signal(signal.SIGTERM, self._on_terminate)

    def _on_interrupt(self, signum: int, frame: FrameType | None) -> None:
        if self._in_job:
            raise KeyboardInterrupt

    def _on_terminate(self, signum: int, frame: FrameType | None) -> None:
        self._stopping.set()
        if self._in_job:
            # as Ctrl-C: a network's loop (its own SIGINT handler) checkpoints first
            signal.raise_signal(signal.SIGINT)

    def stop(self) -> None:
        self._stopping.set()

    # ---- the loop ------------------------------------------------------------------------------
    def run_forever(self, *, max_jobs: int | None = None) -> int:
        """Run jobs until stopped; returns how many it ran."""
        done = 0
        while not self._stopping.is_set() and (max_jobs is None or done < max_jobs):
            if self._orphaned():
                log.warning("%s: the server that started it is gone; stopping", self.name)
                break
            try:
                job = job_store.claim_job(self.workspace, worker=self.name)
            except StoreUnavailable as away:
                log.warning("%s: %s", self.name, away)
                self._stopping.wait(STORE_RETRY_S)
                continue
            if job is None:
                self._stopping.wait(self.poll_s)
                continue
            self.run_one(job)
            done += 1
        return done

    def run_one(self, job: JobRecord) -> None:
        """Run one claimed job with its heartbeat, and record how it ended."""
        from trainforge.server.running import run_job

        job_id = job["id"]
        self._cancelled = False
        beating = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job_id, beating),
                                name=f"heartbeat-{job_id[:8]}", daemon=True)
        status, result, error = "failed", None, None
        meter = Meter()  # a worker runs one job at a time: what the process uses is the job's
        try:
            self._in_job = True
            beat.start()
            job_store.append_log(self.workspace, job_id, f"{self.name} started attempt "
                                 f"{job['attempts']} of this {job['kind']} job")
            result = run_job(self.workspace, job)
            status = "succeeded"
        except KeyboardInterrupt:
            status = "interrupted"
        except StoreUnavailable:  # the store's outage, not the job's failure: run it again
            status = "store lost"
            log.warning("job %s lost the store; it goes back to the queue", job_id,
                        exc_info=True)
        except Exception as failure:  # the job's failure, not the worker's: record, go on
            error = str(failure) or repr(failure)
            log.warning("job %s failed", job_id, exc_info=True)
        finally:
            self._in_job = False
        try:
            self._record_once_reachable(job, status=status, result=result, error=error,
                                        used=meter.read())
        finally:
            beating.set()
            beat.join()

    def _record_once_reachable(self, job: JobRecord, *, status: str,
                               result: dict[str, Any] | None, error: str | None,
                               used: Used) -> None:
        """Record how the job ended, waiting for a store that went away: the job's heartbeat
        keeps it this worker's meanwhile. A worker told to stop gives up; the job's silent
        heartbeat then requeues it."""
        while True:
            try:
                self._record(job, status=status, result=result, error=error, used=used)
                return
            except StoreUnavailable as away:
                log.warning("%s: recording job %s waits: %s", self.name, job["id"], away)
                if self._stopping.wait(STORE_RETRY_S):
                    return

    def _record(self, job: JobRecord, *, status: str, result: dict[str, Any] | None,
                error: str | None, used: Used) -> None:
        job_id = job["id"]
        if status == "store lost":
            if job_store.release_job(self.workspace, job_id, worker=self.name, used=used):
                job_store.append_log(self.workspace, job_id, f"{self.name} lost the "
                                     "database during the job; job requeued")
            return
        if status == "interrupted":
            if self._cancelled:
                status, error = "cancelled", "cancelled on request"
            elif self._stopping.is_set():
                # the server is stopping: the job goes back to the queue, its run resumes later
                if job_store.release_job(self.workspace, job_id, worker=self.name, used=used):
                    job_store.append_log(self.workspace, job_id,
                                         f"{self.name} stopped with the server; job requeued")
                return
            else:  # taken away (requeued after a missed heartbeat): another worker has it
                return
        if job_store.finish_job(self.workspace, job_id, status=status, worker=self.name,
                                result=result, error=error, used=used):
            job_store.append_log(self.workspace, job_id,
                                 status if error is None else f"{status}: {error}")

    def _orphaned(self) -> bool:
        return self.parent_pid is not None and os.getppid() != self.parent_pid

    def _heartbeat(self, job_id: str, done: threading.Event) -> None:
        while not done.wait(self.heartbeat_s):
            if self._orphaned():  # as if the server had stopped it: the job is requeued
                os.kill(os.getpid(), signal.SIGTERM)
                return
            try:
                stop = job_store.heartbeat(self.workspace, job_id, worker=self.name)
            except Exception:  # a store hiccup: the next beat tries again
                log.warning("heartbeat of job %s failed", job_id, exc_info=True)
                continue
            if stop and not done.is_set():
                self._cancelled = bool(job_store.get_job(self.workspace, job_id)
                                       ["cancel_requested"])
                job_store.append_log(self.workspace, job_id, "stopping: " + (
                    "cancel requested" if self._cancelled else "the job was taken away"))
                self.interrupt()
                return

    def interrupt(self) -> None:
        """Stop the running job as Ctrl-C does (its main thread handles the signal)."""
        os.kill(os.getpid(), signal.SIGINT)


def default_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainforge.server.workers",
                                     description="Run trainforge jobs from the store's queue.")
    parser.add_argument("--home", type=Path, default=None, help="the workspace directory")
    parser.add_argument("--name", default=None, help="this worker's name in the job records")
    parser.add_argument("--heartbeat-s", type=float, default=5.0)
    parser.add_argument("--poll-s", type=float, default=IDLE_POLL_S)
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="stop when this process (the server) is gone")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(message)s")
    own_process()  # a worker runs every job kind; trainings are most of its memory
    # the database URL comes from $TRAINFORGE_DATABASE_URL, as for every other process
    worker = Worker(Workspace(args.home), name=args.name or default_name(),
                    heartbeat_s=args.heartbeat_s, poll_s=args.poll_s,
                    parent_pid=args.parent_pid)
    worker.install_signals()
    started = time.monotonic()
    ran = worker.run_forever()
    log.info("%s stops after %d jobs in %.0f s", worker.name, ran, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
