"""`trainforge server` as a real process: first-start credentials, and queued jobs that survive
a restart."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from tests._paths import EXAMPLES, ROOT
from tests.server._jobs import free_port, upload, wait_for

from trainforge.cli.server_cmd import _first_start
from trainforge.store import jobs as job_store
from trainforge.workspace import Workspace

# wine's 178 rows, not credit_g's 1,000: what is tested is the queue across a restart, and
# each of the three trainings costs ~3 s of CPU less
FAST = {"target": "cultivar", "algorithm": "linear", "trials": 1}


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


def _first_admin(home: Path) -> dict[str, str]:
    """What the first start wrote down: {"web UI login": …, "password": …, "admin token": …}."""
    text = (home / "secrets" / "first-admin.txt").read_text()
    return dict(re.findall(r"^([a-zA-Z ]+): (\S+)$", text, flags=re.MULTILINE))


def test_the_first_start_prints_where_the_admin_login_is_but_never_the_secrets(home):
    from rich.console import Console

    console = Console(record=True, width=200)
    _first_start(Workspace(home), console)
    printed, written = console.export_text(), _first_admin(home)
    assert str(home / "secrets" / "first-admin.txt") in printed
    assert written["password"] not in printed and written["admin token"] not in printed
    assert stat.S_IMODE((home / "secrets" / "first-admin.txt").stat().st_mode) == 0o600


@pytest.mark.slow
def test_the_first_start_writes_an_admin_login_and_token_that_work_once(tmp_path):
    home = tmp_path / "home"
    with trainforge_server(home) as first:
        written = _first_admin(home)
        me = httpx.get(f"{first.url}/api/v1/me",
                       headers={"Authorization": f"Bearer {written['admin token']}"})
        assert me.json()["role"] == "admin" and written["web UI login"] == "admin"
    with trainforge_server(home) as second:
        wait_for(lambda: second.printed(r"(trainforge server on)"), timeout_s=5,
                 what="the start line")
        assert second.printed(r"(first-admin)") is None
    assert _first_admin(home) == written  # the second start left the first's file alone


@pytest.mark.slow
def test_jobs_queued_when_the_server_stops_all_succeed_after_it_starts_again(tmp_path):
    home = tmp_path / "home"
    workspace = Workspace(home)
    with trainforge_server(home) as server:
        token = _first_admin(home)["admin token"]
        dataset = upload(workspace, EXAMPLES / "wine.csv")
        ids = [httpx.post(f"{server.url}/api/v1/jobs",
                          headers={"Authorization": f"Bearer {token}"},
                          json={"kind": "train", "dataset": dataset, "name": f"wine{i}",
                                **FAST}).json()["id"] for i in range(3)]
    stopped = {job_store.get_job(workspace, i)["status"] for i in ids}
    assert "running" not in stopped and stopped <= {"queued", "succeeded"}
    assert "queued" in stopped  # the restart has something to prove
    with trainforge_server(home):
        wait_for(lambda: all(job_store.get_job(workspace, i)["status"] in job_store.FINISHED
                             for i in ids), timeout_s=60, what="every job to end")
    assert [job_store.get_job(workspace, i)["status"] for i in ids] == ["succeeded"] * 3
    assert sorted(m.name for m in workspace.registry.list_models()) == [
        "wine0", "wine1", "wine2"]
