"""A holder's ClientApps are forks of its warm process (``flower_warm``), reached through the
``flwr-clientapp`` shim on its SuperNode's PATH: a federation starts no interpreter per
message, the fork speaks with the shim's streams and exit status, a killed shim takes its
fork with it, a shim with no server is Flower's own command, and a killed holder leaves
none of its processes behind.

Needs Flower's virtualenv (`make test-federated` runs it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
from tests.federated._holders import SLOW_FEDERATION_S, credit_holders, kill_holder

from trainforge.federated.clientapp_shim import SOCKET_VARIABLE, write_shim
from trainforge.federated.environment import code_path
from trainforge.federated.processes import run_federation

pytestmark = [pytest.mark.federated]
# what every interpreter started from the processes' PYTHONPATH records: its command line
RECORD_START = ("import os, sys\n"
                "with open(os.path.join(os.path.dirname(__file__), 'started.txt'), 'a') as f:\n"
                "    f.write(' '.join(sys.orig_argv) + '\\n')\n")
UNREACHABLE = ["--runtime-api-address", "127.0.0.1:9", "--token", "t", "--insecure"]


@pytest.fixture(scope="module")
def federation(tmp_path_factory, flower):
    """Three credit_g holders on Flower's runtime, 2 rounds, client-2 killed after round 1;
    each interpreter the federation starts writes its command line to started.txt."""
    scratch = tmp_path_factory.mktemp("warm")
    (code_path(scratch) / "sitecustomize.py").write_text(RECORD_START)
    plan, tables = credit_holders(scratch, n_clients=3)
    rounds: list[dict] = []

    def kill_client_2_after_round_1(record: dict) -> None:
        rounds.append(record)
        if record["round"] == 1:
            kill_holder("client-2")

    run_federation(replace(plan, rounds=2, min_clients=2), tables, python=flower,
                   scratch=scratch, on_round=kill_client_2_after_round_1,
                   on_client_lost=lambda name, why: None)
    return scratch, rounds


def started_commands(scratch: Path) -> list[str]:
    return (code_path(scratch) / "started.txt").read_text().splitlines()


@pytest.mark.slow
@pytest.mark.timeout(SLOW_FEDERATION_S)
def test_a_federation_starts_no_interpreter_per_message(federation):
    scratch, rounds = federation
    assert [sorted(r["clients"]) for r in rounds] == [
        ["client-0", "client-1", "client-2"], ["client-0", "client-1"]]
    # each holder's SuperNode, its SuperExec and its warm server; not one flwr-clientapp
    assert [c for c in started_commands(scratch) if "flwr-clientapp" in c] == []
    assert sum("flower_warm" in c for c in started_commands(scratch)) == 3


@pytest.mark.slow
@pytest.mark.timeout(SLOW_FEDERATION_S)
def test_each_message_runs_flowers_clientapp_logging_to_the_holders_log(federation):
    scratch, _ = federation
    log = (scratch / "client-0.log").read_text()
    assert "client-0's ClientApps are forked from a warm process" in log
    # a train and an evaluate reply in each of the 2 rounds, each from a fork that logged
    # here (Flower launches a task again when its first ClientApp misses its 30 s check-in,
    # as the first may at high load while the warm process prepares)
    assert log.count("Sending: ") == 4
    assert log.count("Start `flwr-clientapp` process") >= 4


@pytest.mark.slow
@pytest.mark.timeout(SLOW_FEDERATION_S)
def test_a_killed_holder_leaves_none_of_its_processes_behind(federation):
    scratch, _ = federation
    home = scratch / "client-2"
    deadline = time.monotonic() + 30
    while (left := processes_in(home)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert left == []


def processes_in(folder: Path) -> list[str]:
    """The command lines of this user's live processes working in ``folder``."""
    found = []
    for process in psutil.process_iter(["cwd", "cmdline", "status"]):
        info = process.info
        if (info["cwd"] and Path(info["cwd"]).is_relative_to(folder)
                and info["status"] != psutil.STATUS_ZOMBIE):
            found.append(" ".join(info["cmdline"] or []))
    return found


@pytest.fixture()
def warm_server(tmp_path, flower):
    """A warm ClientApp server for a credit_g holder, and the shim that reaches it."""
    plan, tables = credit_holders(tmp_path, n_clients=2)
    name, table = tables[0]
    node_config = tmp_path / "node.toml"
    node_config.write_text(f"plan = {str(plan.save(tmp_path / 'plan.json'))!r}\n"
                           f"data = {str(table)!r}\nname = {name!r}\n")
    environment = {**os.environ, "PYTHONPATH": str(code_path(tmp_path)),
                   "FLWR_TELEMETRY_ENABLED": "0",
                   SOCKET_VARIABLE: str(tmp_path / "clientapps.sock")}
    server = subprocess.Popen([str(flower), "-m", "trainforge.federated.flower_warm",
                               str(node_config), str(tmp_path / "clientapps.sock")],
                              env=environment, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    shim = write_shim(tmp_path / "shim", python=flower) / "flwr-clientapp"
    try:
        assert server.stderr is not None
        assert "forked from a warm process" in server.stderr.readline()  # prepared
        yield server, shim, environment
    finally:
        server.kill()
        server.wait()


def test_a_fork_answers_on_the_shims_streams_with_its_exit_status(warm_server):
    server, shim, environment = warm_server
    done = subprocess.run([str(shim), *UNREACHABLE, "--no-such-flag"], env=environment, capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 2  # argparse's, from Flower's own command in the fork
    assert "flwr-clientapp: error: unrecognized arguments: --no-such-flag" in done.stderr
    assert [c.pid for c in psutil.Process(server.pid).children()] == []


def test_a_killed_shim_takes_its_fork_with_it(warm_server):
    server, shim, environment = warm_server
    waiting = subprocess.Popen([str(shim), *UNREACHABLE], env=environment,
                               stderr=subprocess.PIPE)  # a ClientApp retrying its SuperNode
    deadline = time.monotonic() + 30
    while not psutil.Process(server.pid).children() and time.monotonic() < deadline:
        time.sleep(0.1)
    fork = psutil.Process(server.pid).children()[0]
    os.kill(waiting.pid, signal.SIGKILL)
    waiting.wait()
    fork.wait(timeout=10)
    assert not fork.is_running()


def test_a_shim_with_no_warm_server_is_flowers_own_command(tmp_path, flower):
    shim = write_shim(tmp_path / "shim", python=flower) / "flwr-clientapp"
    environment = {**os.environ, "PYTHONPATH": str(code_path(tmp_path)),
                   SOCKET_VARIABLE: str(tmp_path / "nothing-listens.sock")}
    done = subprocess.run([str(shim), *UNREACHABLE, "--no-such-flag"], env=environment, capture_output=True,
                          text=True, check=False, timeout=120)
    assert done.returncode == 2
    assert "flwr-clientapp: error: unrecognized arguments: --no-such-flag" in done.stderr
