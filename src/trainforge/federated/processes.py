"""Run a federation as processes: Flower's coordinator and one client per data holder, each
started from Flower's virtualenv, talking Flower's gRPC on 127.0.0.1.

``run_federation`` returns the global weights after the last round and hands each round's
record (``flower_server`` writes one JSON line per round) to ``on_round`` as it ends, so the
run's curves move while the federation trains.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from trainforge.errors import FederationFailed
from trainforge.federated.environment import code_path
from trainforge.federated.linear import Weights
from trainforge.federated.plan import FederationPlan

ROUNDS_FILE = "rounds.jsonl"  # what flower_server writes: a line per round
WEIGHTS_FILE = "weights.npz"  # and the global weights after the last
START_TIMEOUT_S = 60.0  # the coordinator's gRPC port must open within this
POLL_S = 0.2
LOG_TAIL_CHARS = 2_000


def run_federation(plan: FederationPlan, holders: Sequence[tuple[str, Path]], *,
                   python: Path, scratch: Path, on_round: Callable[[dict[str, Any]], None],
                   on_client_lost: Callable[[str, str], None]) -> Weights:
    """Start the coordinator, then a client per (name, table) of ``holders``; follow the
    rounds until the coordinator ends; return the global weights.

    A client that exits with an error is reported to ``on_client_lost(name, why)`` and the
    rounds go on without it while ``plan.min_clients`` are left. Raises FederationFailed
    naming the process and quoting its log when the coordinator fails, or a client fails
    with too few left.
    """
    plan_file = plan.save(scratch / "plan.json")
    environment = {**os.environ, "PYTHONPATH": str(code_path(scratch)),
                   "FLWR_TELEMETRY_ENABLED": "0",  # offline: Flower phones home otherwise
                   # a process per holder on one machine: each on one thread, or N clients'
                   # thread pools oversubscribe the cores they share
                   "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    address = f"127.0.0.1:{_free_port()}"
    started: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def start(role: str, module: str, *arguments: str) -> subprocess.Popen[bytes]:
        log = scratch / f"{role}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen([str(python), "-m", module, *arguments], stdout=sink,
                                       stderr=subprocess.STDOUT, env=environment,
                                       cwd=scratch)
        started.append((role, process, log))
        return process

    try:
        coordinator = start("coordinator", "trainforge.federated.flower_server",
                            "--plan", str(plan_file), "--address", address,
                            "--out", str(scratch))
        _wait_for_port(address, coordinator, scratch / "coordinator.log")
        for name, table in holders:
            start(name, "trainforge.federated.flower_client", "--server", address,
                  "--plan", str(plan_file), "--data", str(table), "--name", name)
        _follow(coordinator, started, scratch / ROUNDS_FILE, on_round=on_round,
                on_client_lost=on_client_lost, min_clients=plan.min_clients)
        with np.load(scratch / WEIGHTS_FILE, allow_pickle=False) as saved:
            return [saved[f"arr_{index}"] for index in range(len(saved.files))]
    finally:
        for _, process, _ in started:
            if process.poll() is None:
                process.terminate()
        for _, process, _ in started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _follow(coordinator: subprocess.Popen[bytes],
            started: list[tuple[str, subprocess.Popen[bytes], Path]], rounds: Path, *,
            on_round: Callable[[dict[str, Any]], None],
            on_client_lost: Callable[[str, str], None], min_clients: int) -> None:
    """Hand each new round line to ``on_round`` until the coordinator exits; a client that
    fails is reported, and ends the federation when fewer than ``min_clients`` are left."""
    clients = started[1:]
    lost: set[str] = set()
    reader: IO[str] | None = None
    try:
        while True:
            ended = coordinator.poll() is not None
            if reader is None and rounds.exists():
                reader = rounds.open()
            for line in reader.readlines() if reader is not None else []:
                on_round(json.loads(line))
            if ended:
                break
            for role, process, log in clients:
                if role not in lost and process.poll() not in (None, 0):
                    lost.add(role)
                    why = f"it exited with status {process.returncode}: {_tail(log)}"
                    if len(clients) - len(lost) < min_clients:
                        raise FederationFailed(role, f"{why} (fewer than the {min_clients} "
                                                     "clients the rounds need are left)")
                    on_client_lost(role, why)
            time.sleep(POLL_S)
    finally:
        if reader is not None:
            reader.close()
    if coordinator.returncode != 0:
        raise FederationFailed("coordinator", f"it exited with status {coordinator.returncode}: "
                               f"{_tail(started[0][2])}")


def _wait_for_port(address: str, process: subprocess.Popen[bytes], log: Path) -> None:
    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise FederationFailed("coordinator", f"it exited with status {process.returncode} "
                                   f"before serving: {_tail(log)}")
        with socket.socket() as probe:
            if probe.connect_ex((host, int(port))) == 0:
                return
        time.sleep(POLL_S)
    raise FederationFailed("coordinator", f"its gRPC port {address} did not open within "
                           f"{START_TIMEOUT_S:.0f} s: {_tail(log)}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tail(log: Path) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return text[-LOG_TAIL_CHARS:].strip() or "(no output)"
