"""`trainforge server` as a real process: first-start credentials, and queued jobs that survive
a restart."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from tests._paths import EXAMPLES, ROOT
from tests.server._jobs import free_port, upload, wait_for

from trainforge.store import jobs as job_store
from trainforge.workspace import Workspace

FAST = {"target": "class", "algorithm": "linear", "trials": 1}


class ServerProcess:
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process, self.url = process, url
        self.lines: list[str] = []

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def printed(self, pattern: str) -> str | None:
        for line in self.lines:
            found = re.search(pattern, line)
            if found:
                return found.group(1)
        return None


@contextmanager
def trainforge_server(home: Path) -> Iterator[ServerProcess]:
    """``trainforge server`` on a free port (one worker, quick heartbeats), stopped with the
    Ctrl-C a user would press; the process must be gone within 30 s."""
    port = free_port()
    env = dict(os.environ, TRAINFORGE_HOME=str(home),
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    process = subprocess.Popen(
        [sys.executable, "-m", "trainforge", "server", "--port", str(port), "--workers", "1",
         "--heartbeat-s", "0.2", "--stale-after-s", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    server = ServerProcess(process, f"http://127.0.0.1:{port}")
    reader = threading.Thread(target=server.read, daemon=True)
    reader.start()

    def answers() -> bool:
        try:
            return httpx.get(f"{server.url}/docs", timeout=1).status_code == 200
        except httpx.HTTPError:
            return process.poll() is not None and _raise(server)

    try:
        wait_for(answers, timeout_s=30, what="trainforge server to answer")
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise AssertionError("trainforge server did not stop within 30 s of Ctrl-C") \
                    from None
        reader.join(timeout=5)


def _raise(server: ServerProcess) -> bool:
    raise AssertionError("trainforge server exited:\n" + "\n".join(server.lines))


def test_the_first_start_prints_an_admin_login_and_token_once(tmp_path):
    home = tmp_path / "home"
    with trainforge_server(home) as first:
        token = first.printed(r"admin token:\s+(\S+)")
        assert token is not None and first.printed(r"web UI login:\s+(\S+) /") == "admin"
        me = httpx.get(f"{first.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["role"] == "admin"
    with trainforge_server(home) as second:
        wait_for(lambda: second.printed(r"(trainforge server on)"), timeout_s=5,
                 what="the start line")
        assert second.printed(r"admin token:\s+(\S+)") is None
        assert second.printed(r"web UI login:\s+(\S+)") is None


def test_jobs_queued_when_the_server_stops_all_succeed_after_it_starts_again(tmp_path):
    home = tmp_path / "home"
    workspace = Workspace(home)
    with trainforge_server(home) as server:
        token = server.printed(r"admin token:\s+(\S+)")
        dataset = upload(workspace, EXAMPLES / "credit_g.csv")
        ids = [httpx.post(f"{server.url}/api/v1/jobs",
                          headers={"Authorization": f"Bearer {token}"},
                          json={"kind": "train", "dataset": dataset, "name": f"credit{i}",
                                **FAST}).json()["id"] for i in range(3)]
    stopped = {job_store.get_job(workspace, i)["status"] for i in ids}
    assert "running" not in stopped and stopped <= {"queued", "succeeded"}
    assert "queued" in stopped  # the restart has something to prove
    with trainforge_server(home):
        wait_for(lambda: all(job_store.get_job(workspace, i)["status"] in job_store.FINISHED
                             for i in ids), timeout_s=60, what="every job to end")
    assert [job_store.get_job(workspace, i)["status"] for i in ids] == ["succeeded"] * 3
    assert sorted(m.name for m in workspace.registry.list_models()) == [
        "credit0", "credit1", "credit2"]
