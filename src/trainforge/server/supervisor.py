"""Keeps the server's worker processes alive, and gives the jobs of dead ones back to the queue.

    supervisor = Supervisor(workspace, workers=2, heartbeat_s=5, stale_after_s=30)
    supervisor.start()   # with the server
    ...
    supervisor.stop()    # SIGTERM to each worker (its job is requeued), SIGKILL after a timeout

Workers are ``python -m trainforge.server.workers`` subprocesses in their own session: a fresh
interpreter opens its own database connections, and the terminal's Ctrl-C reaches only the
server, which then stops the workers in order. A worker that dies is started again; a job it
held is requeued by ``requeue_stale`` once its heartbeat is ``stale_after_s`` old, and resumes
from its checkpoints on whichever worker claims it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

from trainforge.store import jobs as job_store
from trainforge.workspace import DATABASE_VARIABLE, Workspace

log = logging.getLogger(__name__)

CHECK_EVERY_S = 0.5  # how often dead workers are noticed
STOP_TIMEOUT_S = 20.0  # a worker's time to checkpoint and requeue after SIGTERM


def worker_threads(workers: int) -> int:
    """Threads per worker process: the machine's cores shared out, at least one."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


class Supervisor:
    """``workers`` worker processes, restarted when they die, plus the stale-job sweep."""

    def __init__(self, workspace: Workspace, *, workers: int, heartbeat_s: float,
                 stale_after_s: float, requeue_every_s: float | None = None) -> None:
        self.workspace = workspace
        self.size, self.heartbeat_s, self.stale_after_s = workers, heartbeat_s, stale_after_s
        # a stale job is noticed within a fraction of the time it takes to become stale
        self.requeue_every_s = requeue_every_s or max(0.5, min(5.0, stale_after_s / 4))
        self.processes: list[subprocess.Popen[bytes] | None] = [None] * workers
        self.restarts = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            for slot in range(self.size):
                self.processes[slot] = self._spawn(slot)
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._thread.start()

    def _spawn(self, slot: int) -> subprocess.Popen[bytes]:
        env = dict(os.environ, **{DATABASE_VARIABLE: self.workspace.database_url})
        # the workers share the cores: each gets its share of threads unless the user chose
        # (two workers on 2 cores with 2 torch threads each trained a CNN 4x slower)
        env.setdefault("OMP_NUM_THREADS", str(worker_threads(self.size)))
        command = [sys.executable, "-m", "trainforge.server.workers",
                   "--home", str(self.workspace.home), "--heartbeat-s", str(self.heartbeat_s),
                   "--name", f"worker-{slot + 1}-{os.getpid()}-{self.restarts}",
                   "--parent-pid", str(os.getpid())]
        return subprocess.Popen(command, env=env, start_new_session=True)

    def _watch(self) -> None:
        last_sweep = 0.0
        while not self._stop.wait(CHECK_EVERY_S):
            with self._lock:
                if self._stop.is_set():
                    return
                for slot, process in enumerate(self.processes):
                    if process is not None and process.poll() is not None:
                        log.warning("worker %d exited with %s; starting another", slot + 1,
                                    process.returncode)
                        self.restarts += 1
                        self.processes[slot] = self._spawn(slot)
            if time.monotonic() - last_sweep >= self.requeue_every_s:
                last_sweep = time.monotonic()
                try:
                    moved = job_store.requeue_stale(self.workspace,
                                                    stale_after_s=self.stale_after_s)
                except Exception:  # the store is busy or away: the next sweep tries again
                    log.warning("requeueing stale jobs failed", exc_info=True)
                    continue
                if moved:
                    log.warning("jobs without a heartbeat: %s", ", ".join(moved))

    def alive(self) -> bool:
        """Whether it is watching and at least one worker process runs (the server's
        readiness check; a worker being restarted is a moment, not an outage)."""
        with self._lock:
            running = any(p is not None and p.poll() is None for p in self.processes)
        return running and self._thread is not None and self._thread.is_alive()

    def pids(self) -> list[int]:
        with self._lock:
            return [p.pid for p in self.processes if p is not None]

    def stop(self, *, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM every worker (a running job checkpoints and goes back to the queue), then
        SIGKILL whichever has not exited after ``timeout_s``."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            running = [p for p in self.processes if p is not None and p.poll() is None]
            for process in running:
                process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            for process in running:
                try:
                    process.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    log.warning("worker %d did not stop in %.0f s; killing it", process.pid,
                                timeout_s)
                    process.kill()
                    process.wait()
            self.processes = [None] * self.size
