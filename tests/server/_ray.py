"""A real Ray cluster for the tests, on this machine only: nodes started with `ray start
--block` as child processes, each stopped by ending that process (never `ray stop`, which
would stop every Ray on the machine, other people's included)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
from tests.server._jobs import free_port

import trainforge

RAY = Path(sys.executable).with_name("ray")
START_TIMEOUT_S = 90  # a node takes ~15 s to start on 2 busy cores


@contextmanager
def ray_node(*, head: str | None = None, num_cpus: int = 1) -> Iterator[tuple[str, int]]:
    """A Ray node of ``num_cpus`` CPUs: the head of a new cluster, or one joining ``head``;
    yields (the cluster's address, the pid of the node's `ray start`)."""
    # Ray's sockets live under its temp dir, whose path must stay short (a Unix socket path
    # has ~107 bytes), so not under pytest's tmp_path
    temp_dir = tempfile.mkdtemp(prefix="tfray", dir="/tmp")
    command = [str(RAY), "start", "--block", "--num-cpus", str(num_cpus),
               "--disable-usage-stats"]
    if head is None:
        address = f"127.0.0.1:{free_port()}"
        command += ["--head", "--port", address.rsplit(":", 1)[1], "--include-dashboard",
                    "false", "--temp-dir", temp_dir]
    else:
        address = head
        command += ["--address", head]
    # the nodes' workers import the trainforge under test, wherever it is, and these helpers
    source, tests = Path(trainforge.__file__).parents[1], Path(__file__).parents[2]
    # a token in ~/.ray/auth_token (anyone's `ray get-auth-token --generate`) would switch a
    # plain `ray start` to token auth, which these loopback test clusters do not use
    env = dict(os.environ, RAY_AUTH_MODE="disabled", PYTHONPATH=os.pathsep.join(
        filter(None, [str(source), str(tests), os.environ.get("PYTHONPATH")])))
    node = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        if head is None:
            _wait_until_listening(address, node)
        yield address, node.pid
    finally:
        stop_node(node.pid)
        node.wait(timeout=60)
        shutil.rmtree(temp_dir, ignore_errors=True)


def hold_a_cpu() -> None:
    """A Ray task's body that keeps its CPU until it is cancelled."""
    time.sleep(600)


def kill_node(pid: int) -> None:
    """kill -9 every process of the node `ray start` ``pid`` started: as if its machine died."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return
    for child in children:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass


def stop_node(pid: int) -> None:
    """Stop the node: its `ray start --block` stops the processes it started; whatever is
    left after 30 s is killed."""
    try:
        children = psutil.Process(pid).children(recursive=True)
        os.kill(pid, signal.SIGTERM)
    except (psutil.NoSuchProcess, ProcessLookupError):
        return
    _, alive = psutil.wait_procs(children, timeout=30)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


def _wait_until_listening(address: str, node: subprocess.Popen[bytes]) -> None:
    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if node.poll() is not None:
            raise AssertionError(f"`ray start --head` exited with {node.returncode}")
        try:
            with socket.create_connection((host, int(port)), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"no Ray head on {address} after {START_TIMEOUT_S} s")
