"""Ray as the job backend: the server's queue, run by tasks on a Ray cluster.

    connect("auto", workspace=workspace)       # or HOST:PORT, ray://HOST:PORT
    dispatcher = RayDispatcher(workspace, heartbeat_s=5, stale_after_s=30)
    dispatcher.start()  # with the server
    ...
    dispatcher.stop()   # running jobs go back to the queue, as local workers' do

The store stays the one truth about jobs. The dispatcher (a thread of the server) claims a
queued job under a name of its own and hands it to Ray as a task reserving the resources the
job declares (``job_resources``); while the task waits for a node the dispatcher keeps the
job's heartbeat. The task, once on a node, takes the job over in the store (``hand_over``) and
runs it with a ``Worker``'s own ``run_one``: the same job code, logs, metrics and heartbeat
thread as a local worker. A node that dies takes the task's heartbeat with it: the job goes
stale, ``requeue_stale`` puts it back in the queue and the next task resumes it from its
checkpoints, exactly as after a killed local worker. Ray itself never retries a task
(``max_retries=0``): a retry it started on its own would run the job twice.

Only ``trainforge server --backend ray`` imports this module: the local path never imports Ray.
Ray workers open the workspace's store and artifacts themselves, so with the default SQLite
store every node must be this machine (``connect`` refuses anything else).
"""

from __future__ import annotations

import _thread
import ipaddress
import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import grpc
import ray
from ray._private.services import canonicalize_bootstrap_address
from ray.core.generated.gcs_service_pb2 import (  # type: ignore[attr-defined]
    GetClusterIdRequest,
)
from ray.core.generated.gcs_service_pb2_grpc import NodeInfoGcsServiceStub

from trainforge.errors import RayNeedsSharedStore, RayUnreachable, ResourcesExceedCluster
from trainforge.server.job_resources import ClusterTotals, check_fits, resources_of
from trainforge.server.workers import Worker
from trainforge.store import jobs as job_store
from trainforge.workspace import Workspace

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0  # a head that does not answer a TCP connect in this long is down
TICK_S = 0.1  # how often the dispatcher looks at its tasks and the queue
# jobs handed to Ray that may wait for a node at once: enough to keep a node that frees up
# busy, few enough that the queue, not Ray, decides the order (running jobs are bounded by
# what the cluster has, not by the server)
WAITING_AT_MOST = 2
# how often a waiting task's job is looked at (and its heartbeat touched): a task that took
# its job over frees a place for the next claim within this
CHECK_WAITING_S = 0.5
TOTALS_FRESH_S = 2.0  # how long the cluster's totals are reused by submissions
STARTS_AT_MOST = 3  # a job whose task Ray fails to start this many times fails
STOP_TIMEOUT_S = 20.0  # a task's time to checkpoint once its job went back to the queue
MB = 1 << 20


def connect(address: str | None, *, workspace: Workspace,
            timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Join the Ray cluster at ``address`` (None or "auto": the one started on this machine);
    RayUnreachable within about ``timeout_s`` when it does not answer, RayNeedsSharedStore
    when its nodes could not open a SQLite store on this machine."""
    shown = address or "auto"
    local_store = workspace.database_url.startswith("sqlite")
    host, port = _host_and_port(shown)
    if local_store and not _is_this_machine(host):
        raise RayNeedsSharedStore(shown, f"{host} is another machine")
    client = shown.startswith("ray://")
    # ray.init retries a head that does not answer for minutes: the server would hang
    if client:
        _check_listening(shown, host, port, timeout_s=timeout_s)
    else:
        _check_head_answers(shown, host, port, timeout_s=timeout_s)
    try:
        ray.init(address=shown if client else f"{host}:{port}", log_to_driver=False,
                 logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise RayUnreachable(shown, str(error)) from None
    machines = {node["NodeManagerAddress"] for node in ray.nodes()  # type: ignore[no-untyped-call]
                if node["Alive"]}
    if local_store and len(machines) > 1:
        ray.shutdown()
        raise RayNeedsSharedStore(shown, f"its nodes are on {len(machines)} machines "
                                         f"({', '.join(sorted(machines))})")


def _check_head_answers(shown: str, host: str, port: int, *, timeout_s: float) -> None:
    """One call to the head's GCS, bounded in time: RayUnreachable when nothing answers, or
    something that is not a Ray head does (a proxy, another server)."""
    with grpc.insecure_channel(f"{host}:{port}") as channel:
        try:
            head = NodeInfoGcsServiceStub(channel)  # type: ignore[no-untyped-call]
            head.GetClusterId(GetClusterIdRequest(), timeout=timeout_s)
        except grpc.RpcError as error:
            code = error.code()
            detail = (f"nothing answers on {host}:{port} within {timeout_s:g} s"
                      if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
                      else f"{host}:{port} answers, but not as a Ray cluster's head "
                           f"({code.name})")
            raise RayUnreachable(shown, detail) from None


def _check_listening(shown: str, host: str, port: int, *, timeout_s: float) -> None:
    """A Ray Client server (ray://) speaks its own protocol, and Ray gives up on it by itself
    after a few tries: that something listens is what is checked before."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as error:
        raise RayUnreachable(shown, f"nothing answers on {host}:{port} ({error})") from None


def _host_and_port(address: str) -> tuple[str, int]:
    """Where the cluster's head listens: ``auto`` as Ray finds it on this machine."""
    if address == "auto":
        found = canonicalize_bootstrap_address("auto")
        if found is None:
            raise RayUnreachable(address, "no Ray cluster was started on this machine")
        address = found
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise RayUnreachable(address, "not an address; give auto, HOST:PORT or "
                                      "ray://HOST:PORT")
    return host, int(port)


def _is_this_machine(host: str) -> bool:
    try:
        found = socket.gethostbyname(host)
        own = socket.gethostbyname_ex(socket.gethostname())[2]
    except OSError:  # a name that does not resolve here is not this machine
        return False
    return ipaddress.ip_address(found).is_loopback or found in own


class RayWorker(Worker):
    """A ``Worker`` inside a Ray task: Ray blocks SIGINT in its worker processes, so the job
    is interrupted the way the signal would have done it, from Python."""

    def interrupt(self) -> None:
        _thread.interrupt_main(signal.SIGINT)


@ray.remote(max_retries=0)
def run_on_node(workspace: Workspace, job_id: str, claimed_by: str, heartbeat_s: float
                ) -> None:
    """Take the job over from the dispatcher and run it, as a local worker would."""
    node = ray.get_runtime_context().get_node_id()[:8]
    runner = f"{claimed_by}@{node}-{os.getpid()}"
    if not job_store.hand_over(workspace, job_id, claimed_by=claimed_by, runner=runner):
        return  # cancelled or requeued while it waited for a node
    RayWorker(workspace, name=runner, heartbeat_s=heartbeat_s).run_one(
        job_store.get_job(workspace, job_id))


@dataclass
class _Task:
    """A job the dispatcher handed to Ray."""

    job_id: str
    claimed_by: str  # the dispatcher's name for the job until the task takes it over
    ref: Any  # ray.ObjectRef
    waiting: bool = True  # for a node: the dispatcher keeps its heartbeat
    beat_at: float = 0.0


class RayDispatcher:
    """Claims queued jobs and runs each as a Ray task; requeues the jobs of dead tasks."""

    def __init__(self, workspace: Workspace, *, heartbeat_s: float, stale_after_s: float,
                 requeue_every_s: float | None = None) -> None:
        self.workspace = workspace
        self.heartbeat_s, self.stale_after_s = heartbeat_s, stale_after_s
        self.requeue_every_s = requeue_every_s or max(0.5, min(5.0, stale_after_s / 4))
        self.tasks: dict[str, _Task] = {}
        self._claims = 0
        self._failed_starts: dict[str, int] = {}
        self._totals: tuple[float, ClusterTotals] | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="ray-dispatcher", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        """Whether it dispatches and Ray is joined (the server's readiness check)."""
        return self._thread is not None and self._thread.is_alive() and ray.is_initialized()

    def totals(self) -> ClusterTotals:
        """What the cluster's live nodes have in all (a job's resources must fit it)."""
        with self._lock:
            if self._totals is None or time.monotonic() - self._totals[0] > TOTALS_FRESH_S:
                have = ray.cluster_resources()  # type: ignore[no-untyped-call]
                self._totals = (time.monotonic(), ClusterTotals(
                    cpus=have.get("CPU", 0.0), gpus=have.get("GPU", 0.0),
                    memory_mb=have.get("memory", 0.0) / MB))
            return self._totals[1]

    def _watch(self) -> None:
        last_sweep = 0.0
        while not self._stop.wait(TICK_S):
            try:
                self._collect()
                self._keep_waiting_alive()
                self._claim()
                if time.monotonic() - last_sweep >= self.requeue_every_s:
                    last_sweep = time.monotonic()
                    moved = job_store.requeue_stale(self.workspace,
                                                    stale_after_s=self.stale_after_s)
                    if moved:
                        log.warning("jobs without a heartbeat: %s", ", ".join(moved))
            except Exception:  # the store or Ray is busy or away: the next tick tries again
                log.warning("dispatching jobs to Ray failed", exc_info=True)

    def _collect(self) -> None:
        """Forget the tasks that ended. A task that failed while it ran the job (its node
        died) leaves the job's heartbeat to go stale, and the sweep requeues it; one that
        failed before it took the job over gives it back to the queue now."""
        refs = [task.ref for task in self.tasks.values()]
        if not refs:
            return
        ended, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        for task in [t for t in self.tasks.values() if t.ref in ended]:
            del self.tasks[task.job_id]
            try:
                ray.get(task.ref)
            except ray.exceptions.RayError as error:
                log.warning("the Ray task of job %s ended with %s", task.job_id,
                            type(error).__name__)
                self._not_started(task, type(error).__name__)

    def _not_started(self, task: _Task, why: str) -> None:
        """Requeue a job whose task failed before it took the job over (the job never ran,
        so the attempt does not count), or fail it after ``STARTS_AT_MOST`` such failures (a
        node that cannot import trainforge fails every time)."""
        self._failed_starts[task.job_id] = tries = self._failed_starts.get(task.job_id, 0) + 1
        if tries >= STARTS_AT_MOST:
            if job_store.finish_job(self.workspace, task.job_id, status="failed",
                                    worker=task.claimed_by,
                                    error=f"Ray could not start its task {tries} times (the "
                                          f"last: {why}); see the Ray nodes' logs"):
                job_store.append_log(self.workspace, task.job_id, f"failed: Ray could not "
                                                                  f"start its task ({why})")
        elif job_store.release_job(self.workspace, task.job_id, worker=task.claimed_by):
            job_store.append_log(self.workspace, task.job_id,
                                 f"its Ray task failed before it started ({why}); requeued")

    def _keep_waiting_alive(self) -> None:
        for task in [t for t in self.tasks.values() if t.waiting]:
            if time.monotonic() - task.beat_at < min(self.heartbeat_s, CHECK_WAITING_S):
                continue
            task.beat_at = time.monotonic()
            if not job_store.heartbeat(self.workspace, task.job_id, worker=task.claimed_by):
                continue
            task.waiting = False  # taken over by its task, or cancelled before it started
            job = job_store.get_job(self.workspace, task.job_id)
            if job["worker"] == task.claimed_by and job["cancel_requested"]:
                ray.cancel(task.ref)
                job_store.finish_job(self.workspace, task.job_id, status="cancelled",
                                     worker=task.claimed_by, error="cancelled on request")

    def _claim(self) -> None:
        while sum(task.waiting for task in self.tasks.values()) < WAITING_AT_MOST:
            self._claims += 1
            name = f"ray-{os.getpid()}-{self._claims}"
            job = job_store.claim_job(self.workspace, worker=name)
            if job is None:
                return
            resources = resources_of(job["config"])
            try:
                check_fits(resources, self.totals())
            except ResourcesExceedCluster as error:  # the cluster shrank since it was queued
                job_store.append_log(self.workspace, job["id"],
                                     f"waiting for the Ray cluster: {error}")
            options: dict[str, Any] = {"num_cpus": resources.cpus, "num_gpus": resources.gpus}
            if resources.memory_mb is not None:
                options["memory"] = resources.memory_mb * MB
            ref = run_on_node.options(**options).remote(self.workspace, job["id"], name,
                                                         self.heartbeat_s)
            self.tasks[job["id"]] = _Task(job_id=job["id"], claimed_by=name, ref=ref,
                                          beat_at=time.monotonic())

    def stop(self, *, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Put every job its tasks run back in the queue (each task checkpoints and stops, as
        a local worker does on SIGTERM), cancel what is left after ``timeout_s``, and leave
        the cluster."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for task in self.tasks.values():
            job = job_store.get_job(self.workspace, task.job_id)
            holder = job["worker"] or ""
            ours = holder == task.claimed_by or holder.startswith(f"{task.claimed_by}@")
            if ours and job_store.release_job(
                    self.workspace, task.job_id, worker=holder):
                job_store.append_log(self.workspace, task.job_id,
                                     "the server stopped; job requeued")
        refs = [task.ref for task in self.tasks.values()]
        if refs:
            _, left = ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
            for ref in left:
                ray.cancel(ref, force=True)
        self.tasks.clear()
        ray.shutdown()
