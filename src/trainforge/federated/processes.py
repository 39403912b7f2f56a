"""Run a federation as processes: Flower's coordinator and one client per data holder, each
started from Flower's virtualenv, talking Flower's gRPC.

``start_coordinator`` starts the coordinator and returns once it listens; ``start_holder``
starts one holder's client against its address (on the coordinator's machine in a
simulation, on the holder's own in a federation the server coordinates). ``Coordinator.follow``
hands each round's record (``flower_server`` writes one JSON line per round) to ``on_round``
as it ends, so the run's curves move while the federation trains, and returns the global
weights after the last round. ``run_federation``, the simulation, is built from the three.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from trainforge.errors import ConfigError, FederationFailed
from trainforge.federated.environment import code_path
from trainforge.federated.linear import Weights
from trainforge.federated.plan import FederationPlan

ROUNDS_FILE = "rounds.jsonl"  # what flower_server writes: a line per round
WEIGHTS_FILE = "weights.npz"  # and the global weights after the last
PLAN_FILE = "plan.json"
START_TIMEOUT_S = 60.0  # the coordinator's gRPC port must open within this
STOP_TIMEOUT_S = 10.0  # a process asked to stop is killed after this
POLL_S = 0.2
LOG_TAIL_CHARS = 2_000


@dataclass(frozen=True)
class Certificates:
    """TLS for the coordinator's gRPC: PEM files of the CA, the coordinator's certificate
    and its private key (a holder checks the coordinator against the CA's certificate)."""

    ca: Path
    certificate: Path
    private_key: Path


@dataclass
class Coordinator:
    """Flower's coordinator, listening on ``address``; ``watch`` the holders started beside it
    (a simulation's) for ``follow`` to notice one that fails."""

    address: str
    process: subprocess.Popen[bytes]
    scratch: Path
    min_clients: int
    holders: list[tuple[str, subprocess.Popen[bytes], Path]] = field(default_factory=list)

    @property
    def log(self) -> Path:
        return self.scratch / "coordinator.log"

    def watch(self, name: str, process: subprocess.Popen[bytes]) -> None:
        self.holders.append((name, process, holder_log(self.scratch, name)))

    def follow(self, on_round: Callable[[dict[str, Any]], None],
               on_client_lost: Callable[[str, str], None]) -> Weights:
        """Hand each new round to ``on_round`` until the coordinator exits; return the global
        weights. A watched holder that exits with an error is reported to
        ``on_client_lost(name, why)`` and the rounds go on without it while ``min_clients`` are
        left. Raises FederationFailed naming the process and quoting its log when the
        coordinator fails, or a holder fails with too few left."""
        _follow(self, on_round=on_round, on_client_lost=on_client_lost)
        if not (self.scratch / WEIGHTS_FILE).is_file():  # stopped (SIGTERM) before the end
            raise FederationFailed("coordinator", "it ended without the global weights: "
                                   f"{_tail(self.log)}")
        with np.load(self.scratch / WEIGHTS_FILE, allow_pickle=False) as saved:
            return [saved[f"arr_{index}"] for index in range(len(saved.files))]

    def stop(self) -> None:
        """Stop the coordinator and the holders watched, if they still run."""
        processes = [self.process, *(process for _, process, _ in self.holders)]
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def start_coordinator(plan: FederationPlan, *, python: Path, scratch: Path,
                      host: str = "127.0.0.1", certificates: Certificates | None = None
                      ) -> Coordinator:
    """Start Flower's coordinator for ``plan`` on a free port of ``host``; returns once it
    listens. Its log, its rounds and the final weights go to ``scratch``.

    Raises FederationFailed (quoting its log) when it exits or does not listen in time.
    """
    if certificates is not None:
        raise ConfigError("TLS certificates need Flower's deployment runtime (the SuperLink), "
                          "which this trainforge does not run yet; leave the certificates out "
                          "on a trusted network, or tunnel the coordinator's port")
    plan_file = _save_plan(plan, scratch)
    address = f"{host}:{_free_port(host)}"
    process = _start(python, scratch, "coordinator", "trainforge.federated.flower_server",
                     "--plan", str(plan_file), "--address", address, "--out", str(scratch))
    coordinator = Coordinator(address=address, process=process, scratch=scratch,
                              min_clients=plan.min_clients)
    try:
        _wait_for_port(address, process, coordinator.log)
    except BaseException:
        coordinator.stop()
        raise
    return coordinator


def start_holder(address: str, plan: FederationPlan, data: Path, name: str, *, python: Path,
                 scratch: Path, root_certificate: Path | None = None
                 ) -> subprocess.Popen[bytes]:
    """Start the client of the holder ``name`` on its table ``data``, connecting to the
    coordinator at ``address``; its log is ``holder_log(scratch, name)``."""
    if root_certificate is not None:
        raise ConfigError("TLS needs Flower's deployment runtime (the SuperLink), which this "
                          "trainforge does not run yet; leave --root-certificate out")
    plan_file = _save_plan(plan, scratch)
    return _start(python, scratch, name, "trainforge.federated.flower_client",
                  "--server", address, "--plan", str(plan_file), "--data", str(data.resolve()),
                  "--name", name)


def holder_log(scratch: Path, name: str) -> Path:
    return scratch / f"{name}.log"


def run_federation(plan: FederationPlan, holders: Sequence[tuple[str, Path]], *,
                   python: Path, scratch: Path, on_round: Callable[[dict[str, Any]], None],
                   on_client_lost: Callable[[str, str], None]) -> Weights:
    """Start the coordinator on 127.0.0.1, then a client per (name, table) of ``holders``;
    follow the rounds until the coordinator ends (``Coordinator.follow``); return the global
    weights."""
    coordinator = start_coordinator(plan, python=python, scratch=scratch)
    try:
        for name, table in holders:
            coordinator.watch(name, start_holder(coordinator.address, plan, table, name,
                                                 python=python, scratch=scratch))
        return coordinator.follow(on_round, on_client_lost)
    finally:
        coordinator.stop()


def _save_plan(plan: FederationPlan, scratch: Path) -> Path:
    """The plan as the processes read it; written whole, then moved in place, so a process
    starting meanwhile never reads half of it."""
    scratch.mkdir(parents=True, exist_ok=True)
    partial = plan.save(scratch / f".{PLAN_FILE}.{os.getpid()}")
    return partial.replace(scratch / PLAN_FILE)


def _start(python: Path, scratch: Path, role: str, module: str, *arguments: str
           ) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "PYTHONPATH": str(code_path(scratch)),
                   "FLWR_TELEMETRY_ENABLED": "0",  # offline: Flower phones home otherwise
                   # a process per holder on one machine: each on one thread, or N clients'
                   # thread pools oversubscribe the cores they share
                   "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with holder_log(scratch, role).open("wb") as sink:
        return subprocess.Popen([str(python), "-m", module, *arguments], stdout=sink,
                                stderr=subprocess.STDOUT, env=environment, cwd=scratch)


def _follow(coordinator: Coordinator, *, on_round: Callable[[dict[str, Any]], None],
            on_client_lost: Callable[[str, str], None]) -> None:
    """Hand each new round line to ``on_round`` until the coordinator exits; a watched holder
    that fails is reported, and ends the federation when fewer than the plan's minimum are
    left."""
    rounds, process = coordinator.scratch / ROUNDS_FILE, coordinator.process
    lost: set[str] = set()
    reader: IO[str] | None = None
    try:
        while True:
            ended = process.poll() is not None
            if reader is None and rounds.exists():
                reader = rounds.open()
            for line in reader.readlines() if reader is not None else []:
                on_round(json.loads(line))
            if ended:
                break
            for role, holder, log in coordinator.holders:
                if role not in lost and holder.poll() not in (None, 0):
                    lost.add(role)
                    why = f"it exited with status {holder.returncode}: {_tail(log)}"
                    if len(coordinator.holders) - len(lost) < coordinator.min_clients:
                        raise FederationFailed(role, f"{why} (fewer than the "
                                                     f"{coordinator.min_clients} clients the "
                                                     "rounds need are left)")
                    on_client_lost(role, why)
            time.sleep(POLL_S)
    finally:
        if reader is not None:
            reader.close()
    if process.returncode != 0:
        raise FederationFailed("coordinator", f"it exited with status {process.returncode}: "
                               f"{_tail(coordinator.log)}")


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


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _tail(log: Path) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return text[-LOG_TAIL_CHARS:].strip() or "(no output)"
