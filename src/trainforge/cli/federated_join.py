"""`trainforge federated join SERVER NAME --data FILE --token T`: one data holder joins a
federation the server coordinates.

It reads FILE here, checks it against the federation's schema (``GET``), sends the server a
summary of it (its columns and their kinds, its classes, its row count: ``POST .../join``),
then runs the holder's Flower client against the coordinator the server names, and shows the
rounds until the federation ends. A federation that speaks TLS admits the holder's SuperNode
by its key: join makes a key pair beside the client, sends the public key with the join, and
the server registers it with the coordinator before answering. The rows never leave this
machine: only model updates and the client's held-out metrics travel, to the coordinator.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from trainforge.client import ServerClient
from trainforge.data.read import read_table
from trainforge.errors import ConfigError, FederationFailed, JoinRefused
from trainforge.federated.environment import flower_python, venv_path
from trainforge.federated.plan import FederationPlan
from trainforge.federated.processes import holder_log, start_holder
from trainforge.jobs.federation import (
    FederationSchema,
    differences,
    summarize,
    tls_mismatch,
)
from trainforge.jobs.federation_keys import make_holder_key

POLL_S = 1.0  # how often the federation's status is asked
ADDRESS_TIMEOUT_S = 600.0  # the coordinator job may wait for a free worker this long
LOG_TAIL_CHARS = 2_000


def join(url: str, name: str, *, data: Path, token: str | None, home: Path,
         console: Console, root_certificates: Path | None = None) -> dict[str, Any]:
    """Join federation ``name`` at ``url`` with the table ``data``, over TLS trusting
    ``root_certificates`` when given; returns the federation as it ended. JoinRefused when the
    table does not fit, or TLS is asked of one side only (checked here first, then by the
    server), FederationFailed when the federation or this holder's client fails."""
    if not data.is_file():
        raise ConfigError(f"{data} is not a file; --data names this holder's table")
    if root_certificates is not None and not root_certificates.is_file():
        raise ConfigError(f"{root_certificates} is not a file; --root-certificates names the "
                          "CA certificate (PEM) the federation's operator gave you")
    python = flower_python(venv_path(home))  # FlowerNotInstalled before anything is sent
    with ServerClient(url, token=token) as client:
        federation = client.get(f"/api/v1/federations/{name}")
        schema = FederationSchema.from_dict(federation["schema"])
        mismatch = tls_mismatch(speaks_tls=federation["tls"],
                                holder_tls=root_certificates is not None)
        if mismatch:  # before the server records the join: a handshake that fails would hang
            raise JoinRefused(name, mismatch)
        summary = summarize(read_table(data), schema)
        found = differences(schema, summary)
        if found:
            raise JoinRefused(name, [f"{data.name}: {difference}" for difference in found])
        with tempfile.TemporaryDirectory(prefix="trainforge-holder-") as scratch:
            # TLS: the coordinator admits this holder's SuperNode by the key it signs with,
            # made here and kept beside it; only its public half is sent
            private_key, public_key = (make_holder_key(Path(scratch)) if federation["tls"]
                                       else (None, None))
            body = {**summary, "tls": root_certificates is not None,
                    **({"public_key": public_key} if public_key else {})}
            answer = client.post(f"/api/v1/federations/{name}/join", json=body)
            console.print(f"joined {name} as {answer['client']} with {summary['n_rows']:,} rows "
                          f"of {data.name} (only a summary of them was sent)", highlight=False)
            address = answer["address"] or _wait_for_address(client, name, console=console)
            if answer["tls"] and not answer.get("registered"):
                # joined before the coordinator listened: joining again registers the key
                answer = client.post(f"/api/v1/federations/{name}/join", json=body)
            plan = FederationPlan.from_dict(answer["plan"])
            how = " over TLS, its SuperNode admitted by its key" if answer["tls"] else ""
            console.print(f"connecting to its coordinator at {address}{how}", highlight=False)
            process = start_holder(address, plan, data, answer["client"], python=python,
                                   scratch=Path(scratch), root_certificate=root_certificates,
                                   private_key=private_key)
            try:
                return _follow(client, name, process=process,
                               log=holder_log(Path(scratch), answer["client"]),
                               console=console)
            finally:
                if process.poll() is None:
                    process.terminate()
                    process.wait(timeout=10)


def _wait_for_address(client: ServerClient, name: str, *, console: Console) -> str:
    console.print("waiting for the coordinator to start", highlight=False)
    deadline = time.monotonic() + ADDRESS_TIMEOUT_S
    while time.monotonic() < deadline:
        federation = client.get(f"/api/v1/federations/{name}")
        if federation["state"] in ("succeeded", "failed"):
            raise FederationFailed("coordinator", federation["status"])
        if federation["address"]:
            return str(federation["address"])
        time.sleep(POLL_S)
    raise FederationFailed("coordinator", f"it did not start within {ADDRESS_TIMEOUT_S:.0f} s; "
                           "are the server's workers busy?")


def _follow(client: ServerClient, name: str, *, process: Any, log: Path,
            console: Console) -> dict[str, Any]:
    """Print the federation's status as it changes until it ends; this holder's client
    failing first is a FederationFailed quoting its log."""
    shown, rounds_shown = "", 0
    while True:
        federation: dict[str, Any] = client.get(f"/api/v1/federations/{name}")
        for record in federation["round_history"][rounds_shown:]:
            console.print(f"[dim]{time.strftime('%H:%M:%S')}[/]  "
                          f"{round_summary(record, of=federation['rounds'])}", highlight=False)
        rounds_shown = len(federation["round_history"])
        # once rounds are shown, they say where it stands
        if federation["status"] != shown and not (federation["state"] == "running"
                                                  and federation["round_history"]):
            shown = federation["status"]
            console.print(f"[dim]{time.strftime('%H:%M:%S')}[/]  {shown}", highlight=False)
        if federation["state"] in ("succeeded", "failed"):
            return federation
        if process.poll() not in (None, 0):
            text = log.read_text(errors="replace") if log.exists() else ""
            raise FederationFailed("client", f"it exited with status {process.returncode}: "
                                   f"{text[-LOG_TAIL_CHARS:].strip() or '(no output)'}")
        time.sleep(POLL_S)


def round_summary(record: dict[str, Any], *, of: int) -> str:
    """"round 2 of 5: 3 clients, held-out loss 0.5123, accuracy 0.7400, roc_auc 0.8012"."""
    shown = ", ".join(f"{key} {record[key]:.4f}" for key in ("accuracy", "roc_auc", "r2", "rmse")
                      if key in record)
    clients = int(record.get("participating_clients", 0))
    return (f"round {record['round']} of {of}: {clients} clients, held-out loss "
            f"{record.get('loss', float('nan')):.4f}{', ' + shown if shown else ''}")
