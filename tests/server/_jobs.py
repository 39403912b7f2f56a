"""Helpers for the job tests: an upload without the datasets route, bounded waiting, and a
real server (uvicorn in a thread, workers as processes) on a free port."""

from __future__ import annotations

import hashlib
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
from tests._paths import EXAMPLES

from trainforge.server.job_requests import TrainJob, submit
from trainforge.store import jobs as job_store
from trainforge.store.access import Principal
from trainforge.store.runs import get_run
from trainforge.store.uploads import new_upload_dir, record_upload
from trainforge.workspace import Workspace

T = TypeVar("T")
EDITOR = Principal(name="test", role="editor", via="token")
HEARTBEAT_S, STALE_AFTER_S = 0.2, 2.0  # a dead worker's job is requeued within ~2.5 s


def upload(workspace: Workspace, source: Path) -> str:
    """Put ``source`` in the workspace as an upload, the way POST /api/v1/datasets does."""
    upload_id, directory = new_upload_dir(workspace)
    path = directory / source.name
    shutil.copy(source, path)
    record_upload(workspace, upload_id=upload_id, path=path, size_bytes=path.stat().st_size,
                  sha256=hashlib.sha256(path.read_bytes()).hexdigest(), uploaded_by="test")
    return upload_id


def wait_for(check: Callable[[], T | None], *, timeout_s: float, what: str,
             every_s: float = 0.2) -> T:
    """Poll ``check`` until it returns something truthy; fail, saying what, after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every_s)
    raise AssertionError(f"gave up after {timeout_s:g} s waiting for {what}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_app(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a thread; yields its URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return httpx.get(f"{url}/docs", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(answers, timeout_s=20, what=f"uvicorn on port {port}")
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def finished(client: httpx.Client, body: dict[str, Any], *, timeout_s: float = 120
             ) -> dict[str, Any]:
    """Queue the job ``body`` through the REST API and wait until it ends; it must have
    succeeded."""
    queued = client.post("/api/v1/jobs", json=body)
    assert queued.status_code == 201, queued.text
    job_id = queued.json()["id"]

    def ended() -> dict[str, Any] | None:
        job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}").json()
        return job if job["status"] in ("succeeded", "failed", "cancelled") else None

    done = wait_for(ended, timeout_s=timeout_s, what=f"{body['kind']} job {job_id}")
    assert done["status"] == "succeeded", done["error"]
    return done


def job_status(workspace: Workspace, job_id: str, *statuses: str) -> dict[str, Any] | None:
    from trainforge.store.jobs import get_job

    job = get_job(workspace, job_id)
    return job if job["status"] in statuses else None


def slow_training(workspace: Workspace, *, trials: int) -> str:
    """A train job of ``trials`` logistic regressions on wine's 178 rows: each trial takes
    ~0.05 s of CPU, so a job of 60 or more is still searching seconds after its first trial,
    when the tests interrupt it. Random forests (~4 s a trial) made the interrupted job pay
    for trials again: a resumed search fits its non-network trials anew."""
    request = TrainJob(kind="train", dataset=upload(workspace, EXAMPLES / "wine.csv"),
                       target="cultivar", algorithm="linear", trials=trials, name="wine")
    return str(submit(workspace, request, EDITOR)["id"])


def trial_scores(workspace: Workspace, job_id: str) -> int:
    run_id = job_store.get_job(workspace, job_id)["run_id"]
    return 0 if run_id is None else len(get_run(workspace, run_id)["series"].get("trial_score",
                                                                                 []))
