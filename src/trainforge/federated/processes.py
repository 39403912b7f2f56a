"""Run a federation as processes on Flower's deployment runtime, each started from Flower's
virtualenv: the coordinator is a SuperLink (``flower_server``) with trainforge's ServerApp
submitted to it as a run, and each data holder a SuperNode (``flower_client``) with its table
in its node config, running trainforge's ClientApp. They talk Flower's Fleet API (HTTP in
Flower 1.42; TLS when certificates are given, else ``--insecure``) on 127.0.0.1 by default.

With certificates the SuperLink also runs Flower's SuperNode authentication: a SuperNode takes
part only with a key pair whose public key was registered with it first (``register_holder``,
Flower's Control API through its CLI); any other is refused as it connects. Without TLS Flower
cannot authenticate SuperNodes, and any that reaches the port may take part.

``start_coordinator`` and ``start_holder`` are the two halves: a federation coordinated by
the trainforge server starts the first and its holders the second, each on their own
machine; ``run_federation`` (the simulation) starts both here. ``Coordinator.follow`` hands
each round's record (the ServerApp writes one JSON line per round) to ``on_round`` as it
ends, so the run's curves move while the federation trains, and returns the global weights.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from trainforge.errors import FederationFailed
from trainforge.federated.environment import code_path
from trainforge.federated.linear import Weights
from trainforge.federated.plan import FederationPlan

ROUNDS_FILE = "rounds.jsonl"  # what the ServerApp writes: a line per round
WEIGHTS_FILE = "weights.npz"  # and the global weights after the last
WAITING_FILE = "waiting.json"  # while a round waits for its clients: how many have joined
FAILED_FILE = "failed.txt"  # why the federation failed
STARTED_FILE = "started"  # the ServerApp is running
APP_NAME = "trainforge-federation"  # the Flower app trainforge submits as the run
CONNECTION = "trainforge"  # its name for the SuperLink in the Flower CLI's config
START_TIMEOUT_S = 120.0  # the SuperLink's port must open, and the run start, within this
POLL_S = 0.2
LOG_TAIL_CHARS = 2_000


@dataclass(frozen=True)
class Certificates:
    """The coordinator's TLS files, PEM: the certificate authority holders trust, the
    SuperLink's certificate (signed by it, naming the address holders dial) and its key."""

    ca_certificate: Path
    certificate: Path
    private_key: Path


class Coordinator:
    """A running SuperLink with trainforge's ServerApp submitted to it as a run."""

    def __init__(self, *, address: str, process: subprocess.Popen[bytes], log: Path,
                 out: Path) -> None:
        self.address = address  # HOST:PORT a holder's SuperNode connects to
        self.process = process
        self.log, self.out = log, out

    def follow(self, on_round: Callable[[dict[str, Any]], None],
               on_client_lost: Callable[[str, str], None], *,
               on_waiting: Callable[[str], None] | None = None) -> Weights:
        """Hand each new round to ``on_round`` until the ServerApp ends; return the global
        weights. A client that answered a round and is missing from the next is reported to
        ``on_client_lost(name, why)`` (the rounds go on while the plan's minimum are left);
        a round that waits for clients says how many joined to ``on_waiting``. Raises
        FederationFailed naming why when the rounds cannot finish."""
        reader: IO[str] | None = None
        previous: set[str] = set()
        waiting_said = ""
        started = time.monotonic()
        try:
            while True:
                ended = (self.out / WEIGHTS_FILE).exists() or (self.out / FAILED_FILE).exists()
                if reader is None and (self.out / ROUNDS_FILE).exists():
                    reader = (self.out / ROUNDS_FILE).open()
                for line in reader.readlines() if reader is not None else []:
                    record = json.loads(line)
                    for name in sorted(previous - set(record["clients"])):
                        on_client_lost(name, f"it sent no update in round {record['round']}")
                    previous = set(record["clients"])
                    on_round(record)
                if ended:
                    break
                waiting_said = self._say_waiting(on_waiting, waiting_said)
                self._check_alive(started)
                time.sleep(POLL_S)
        finally:
            if reader is not None:
                reader.close()
        if (self.out / FAILED_FILE).exists():
            raise FederationFailed("coordinator", (self.out / FAILED_FILE).read_text().strip())
        with np.load(self.out / WEIGHTS_FILE, allow_pickle=False) as saved:
            return [saved[f"arr_{index}"] for index in range(len(saved.files))]

    def _say_waiting(self, on_waiting: Callable[[str], None] | None, said: str) -> str:
        try:
            waiting = json.loads((self.out / WAITING_FILE).read_text())
        except (FileNotFoundError, json.JSONDecodeError):  # none, or being written
            return said
        text = (f"round {waiting['round']} waits for its clients: {waiting['joined']} of the "
                f"{waiting['needed']} it needs have joined")
        if on_waiting is not None and text != said:
            on_waiting(text)
        return text

    def _check_alive(self, started: float) -> None:
        if self.process.poll() is not None:
            raise FederationFailed("coordinator", f"its SuperLink exited with status "
                                   f"{self.process.returncode}: {_tail(self.log)}")
        if not (self.out / STARTED_FILE).exists() and time.monotonic() - started > START_TIMEOUT_S:
            raise FederationFailed("coordinator", f"its ServerApp did not start within "
                                   f"{START_TIMEOUT_S:.0f} s: {_tail(self.log)}")

    def stop(self) -> None:
        """End the SuperLink (and with it the ServerApp it runs)."""
        _stop([self.process])


def start_coordinator(plan: FederationPlan, *, python: Path, scratch: Path,
                      host: str = "127.0.0.1", port: int | None = None,
                      certificates: Certificates | None = None) -> Coordinator:
    """Start a SuperLink on ``host``:``port`` (a free port when None) and submit the plan's
    rounds to it as a run; holders join it at ``Coordinator.address``. With ``certificates``
    it speaks TLS and admits only the SuperNodes whose keys ``register_holder`` registered.
    Raises FederationFailed, quoting its log, when the SuperLink does not serve or the run
    does not start."""
    out = scratch / "coordinator"
    out.mkdir(parents=True, exist_ok=True)
    app = _write_app(out, plan=plan.save(out / "plan.json"), secure=plan.secure_aggregation)
    address = f"{host}:{port or _free_port(host)}"
    home = _flower_home(out, address=address,
                        root_certificate=certificates.ca_certificate if certificates else None)
    environment = _environment(python, scratch=scratch, home=home)
    tls = (["--ssl-ca-certfile", str(certificates.ca_certificate),
            "--ssl-certfile", str(certificates.certificate),
            "--ssl-keyfile", str(certificates.private_key), "--enable-supernode-auth"]
           if certificates else ["--insecure"])
    log = scratch / "coordinator.log"
    process = _start(python, "superlink", [
        *tls, "--host", host, "--port", address.rsplit(":", 1)[1],
        "--isolation", "subprocess", "--disable-runtime-dependency-installation"],
        log=log, environment=environment, cwd=out)
    coordinator = Coordinator(address=address, process=process, log=log, out=out)
    try:
        _wait_for_port(address, process, log)
        submitted = subprocess.run(
            [str(python.parent / "flwr"), "run", str(app), CONNECTION, "--format", "json"],
            env=environment, cwd=out, capture_output=True, text=True, check=False,
            timeout=START_TIMEOUT_S)
        if submitted.returncode != 0:
            raise FederationFailed("coordinator", "the run could not be submitted to its "
                                   f"SuperLink: {(submitted.stdout + submitted.stderr).strip()}")
    except BaseException:
        coordinator.stop()
        raise
    return coordinator


def start_holder(address: str, plan: FederationPlan, data: Path, name: str, *, python: Path,
                 scratch: Path, root_certificate: Path | None = None,
                 private_key: Path | None = None) -> subprocess.Popen[bytes]:
    """Start a SuperNode for the holder ``name`` of ``data``, joining the SuperLink at
    ``address`` (TLS, trusting ``root_certificate``, when one is given), signing its requests
    with ``private_key`` (OpenSSH, EC) when given: a SuperLink that authenticates SuperNodes
    admits it once that key's public half is registered. Its log is ``scratch/NAME.log``."""
    home = scratch / name
    home.mkdir(parents=True, exist_ok=True)
    node_config = home / "node.toml"  # a file, not a flag: any path survives quoting
    node_config.write_text(_toml({"plan": str(plan.save(home / "plan.json")),
                                  "data": str(data.resolve()), "name": name}))
    tls = ["--root-certificates", str(root_certificate)] if root_certificate else ["--insecure"]
    key = ["--auth-supernode-private-key", str(private_key)] if private_key else []
    return _start(python, "supernode", [
        *tls, *key, "--superlink", address, "--node-config", str(node_config),
        "--host", "127.0.0.1", "--port", str(_free_port("127.0.0.1")),
        "--max-wait-time", str(plan.round_timeout_s)],
        log=holder_log(scratch, name), cwd=home,
        environment=_environment(python, scratch=scratch, home=home / "flwr-home"))


def register_holder(address: str, public_key: str, name: str, *, python: Path,
                    root_certificate: Path, scratch: Path) -> int:
    """Register the holder ``name``'s SuperNode key (``public_key``, OpenSSH text) with the
    SuperLink at ``address``, which speaks TLS trusting ``root_certificate``, through Flower's
    Control API (``flwr supernode register``); return the node id Flower gave it. Raises
    FederationFailed quoting Flower when it refuses (a key registered already, a SuperLink
    gone)."""
    folder = scratch / "register"
    folder.mkdir(parents=True, exist_ok=True)
    key_file = folder / "supernode.pub"
    key_file.write_text(public_key + "\n")
    home = _flower_home(folder, address=address, root_certificate=root_certificate)
    registered = subprocess.run(
        [str(python.parent / "flwr"), "supernode", "register", str(key_file), CONNECTION,
         "--name", name, "--format", "json"],
        env=_environment(python, scratch=scratch, home=home), cwd=folder, capture_output=True,
        text=True, check=False, timeout=START_TIMEOUT_S)
    try:  # Flower may print lines of its own before the JSON
        answer, _ = json.JSONDecoder().raw_decode(registered.stdout[
            registered.stdout.index("{"):])
    except (ValueError, json.JSONDecodeError):  # no "{", or no JSON after it
        answer = {}
    if registered.returncode != 0 or not answer.get("success"):
        said = (registered.stdout + registered.stderr).strip()[-LOG_TAIL_CHARS:]
        raise FederationFailed("coordinator", f"its SuperLink at {address} did not register "
                               f"{name}'s SuperNode key: {said or '(no output)'}")
    return int(answer["node-id"])


def holder_log(scratch: Path, name: str) -> Path:
    """Where ``start_holder`` writes the holder's SuperNode's output."""
    return scratch / f"{name}.log"


def run_federation(plan: FederationPlan, holders: Sequence[tuple[str, Path]], *,
                   python: Path, scratch: Path, on_round: Callable[[dict[str, Any]], None],
                   on_client_lost: Callable[[str, str], None],
                   on_waiting: Callable[[str], None] | None = None) -> Weights:
    """Start the coordinator, then a holder per (name, table) of ``holders``, all here on
    127.0.0.1; follow the rounds to the end; return the global weights.

    Raises FederationFailed naming the process and quoting its log when the coordinator
    fails, or why the rounds could not finish (too few clients left, a round timed out).
    """
    coordinator = start_coordinator(plan, python=python, scratch=scratch)
    started: list[subprocess.Popen[bytes]] = []
    try:
        for name, table in holders:
            started.append(start_holder(coordinator.address, plan, table, name,
                                        python=python, scratch=scratch))
        return coordinator.follow(on_round, on_client_lost, on_waiting=on_waiting)
    finally:
        _stop(started)
        coordinator.stop()


def _write_app(out: Path, *, plan: Path, secure: bool) -> Path:
    """The Flower app trainforge submits: a pyproject naming trainforge's ServerApp and
    ClientApp (found on the processes' PYTHONPATH) with the plan and the output directory
    as its run config."""
    app = out / "app"
    app.mkdir(exist_ok=True)
    client = "secure_client_app" if secure else "client_app"
    (app / "pyproject.toml").write_text(
        f"[project]\nname = {json.dumps(APP_NAME)}\nversion = \"1.0.0\"\n"
        "description = \"a trainforge federation\"\nlicense = \"Apache-2.0\"\n\n"
        "[tool.flwr.app]\npublisher = \"trainforge\"\n\n"
        "[tool.flwr.app.components]\n"
        "serverapp = \"trainforge.federated.flower_server:server_app\"\n"
        f"clientapp = \"trainforge.federated.flower_client:{client}\"\n\n"
        f"[tool.flwr.app.config]\n{_toml({'plan': str(plan), 'out': str(out)})}")
    return app


def _flower_home(out: Path, *, address: str, root_certificate: Path | None) -> Path:
    """FLWR_HOME for the Flower CLI run here, its config naming the SuperLink at ``address``
    (TLS, trusting ``root_certificate``, when one is given)."""
    home = out / "flwr-home"
    home.mkdir(exist_ok=True)
    trust = ({"root-certificates": str(root_certificate)} if root_certificate
             else {"insecure": True})
    (home / "config.toml").write_text(
        f"[superlink]\ndefault = {json.dumps(CONNECTION)}\n\n[superlink.{CONNECTION}]\n"
        + _toml({"address": address, **trust}))
    return home


def _toml(values: Mapping[str, str | bool]) -> str:
    """Flat TOML: a JSON string is a valid TOML basic string, any path included."""
    return "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())


def _environment(python: Path, *, scratch: Path, home: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(code_path(scratch)), "FLWR_HOME": str(home),
            # Flower starts its own commands (flower-superexec, flwr-serverapp,
            # flwr-clientapp) by name: its virtualenv's first on the PATH
            "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "FLWR_TELEMETRY_ENABLED": "0",  # offline: Flower phones home otherwise
            # a process per holder on one machine: each on one thread, or N clients'
            # thread pools oversubscribe the cores they share
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _start(python: Path, command: str, arguments: list[str], *, log: Path,
           environment: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """``flower-COMMAND`` with ``arguments``, through trainforge's ``flower_runtime``."""
    with log.open("wb") as sink:
        return subprocess.Popen([str(python), "-m", "trainforge.federated.flower_runtime",
                                 command, *arguments], stdout=sink,
                                stderr=subprocess.STDOUT, env=environment, cwd=cwd)


def _stop(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_port(address: str, process: subprocess.Popen[bytes], log: Path) -> None:
    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise FederationFailed("coordinator", f"its SuperLink exited with status "
                                   f"{process.returncode} before serving: {_tail(log)}")
        with socket.socket() as probe:
            if probe.connect_ex((host, int(port))) == 0:
                return
        time.sleep(POLL_S)
    raise FederationFailed("coordinator", f"its SuperLink's port {address} did not open "
                           f"within {START_TIMEOUT_S:.0f} s: {_tail(log)}")


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _tail(log: Path) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return text[-LOG_TAIL_CHARS:].strip() or "(no output)"
