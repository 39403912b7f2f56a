"""credit_g split between holders' tables, with the federation's declared schema and a plan."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil
import pytest
from tests._paths import EXAMPLES, ROOT

from trainforge.config import FederatedSimulationConfig
from trainforge.data.read import read_table
from trainforge.federated.partition import Scheme, partition
from trainforge.federated.plan import FederationPlan
from trainforge.federated.planning import declare_table
from trainforge.jobs.federate import FederatedOutcome, run_federated_simulation
from trainforge.workspace import Workspace

# Flower starts a ClientApp process per message (five per client in a secure round): on 2
# shared cores under load a federation of three takes minutes, beyond pytest's 600 s default
SLOW_FEDERATION_S = 1_800


def simulated(folder: Path, config: FederatedSimulationConfig
              ) -> tuple[Workspace, FederatedOutcome]:
    """``config``'s simulated federation in a new workspace in ``folder``, run with the
    checkout's own Flower virtualenv (make federated) unless TRAINFORGE_FLOWER_VENV names one."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRAINFORGE_FLOWER_VENV",
                     os.environ.get("TRAINFORGE_FLOWER_VENV", str(ROOT / ".venv-flower")))
        workspace = Workspace(folder)
        return workspace, run_federated_simulation(config, workspace=workspace)


def credit_holders(folder: Path, *, n_clients: int) -> tuple[FederationPlan, list[tuple[str, Path]]]:
    """credit_g split iid between ``n_clients`` holders' tables in ``folder``, and a FedAvg
    plan for them (2 rounds, every client needed; an exchange may take 600 s: on 2 loaded
    cores a round of ClientApp processes can take minutes)."""
    dataset = read_table(EXAMPLES / "credit_g.csv")
    declared = declare_table(dataset, "class", model="linear")
    frame, task, schema = declared.frame, declared.task, declared.schema
    tables = []
    for holder in partition(frame, task, n_clients=n_clients, scheme=Scheme("iid"), seed=0):
        tables.append((holder.name, folder / f"{holder.name}.parquet"))
        frame.iloc[holder.rows].to_parquet(tables[-1][1], index=False)
    plan = FederationPlan(schema=schema, strategy="fedavg", rounds=2, min_clients=n_clients,
                          proximal_mu=0.0, local_epochs=1, batch_size=32, learning_rate=0.1,
                          seed=0, test_size=0.2, round_timeout_s=600.0,
                          secure_max_rows=max(len(read_table(t).frame) for _, t in tables))
    return plan, tables


def kill_holder(name: str) -> None:
    """SIGKILL the SuperNode of holder ``name`` (its node config sits in a folder named so)."""
    node = next(p for p in psutil.Process().children(recursive=True)
                if any(f"/{name}/node.toml" in part for part in _command_line(p)))
    os.kill(node.pid, signal.SIGKILL)  # not waited for here: that would reap it early


def _command_line(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except (psutil.ZombieProcess, psutil.NoSuchProcess):  # a holder killed before, not reaped
        return []
