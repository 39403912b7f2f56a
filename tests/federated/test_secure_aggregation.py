"""Secure aggregation (Flower's SecAgg+): the coordinator learns only the sum of the updates,
the federation learns the weights a plain one does (to SecAgg+'s quantisation), and a client
that drops out mid-round costs the round nothing while enough are left.

Needs Flower's virtualenv (`make test-federated` runs it).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from tests.federated._holders import SLOW_FEDERATION_S, credit_holders, kill_holder

from trainforge.config import FederatedSimulationConfig
from trainforge.errors import ConfigError, FederationFailed
from trainforge.federated.processes import run_federation
from trainforge.jobs.federate import run_federated_simulation
from trainforge.workspace import Workspace

pytestmark = [pytest.mark.federated]


@pytest.mark.slow
@pytest.mark.timeout(SLOW_FEDERATION_S)
def test_a_secure_federation_learns_the_plain_ones_weights(tmp_path, flower):
    plan, tables = credit_holders(tmp_path, n_clients=3)
    plan = replace(plan, rounds=1)
    learned, rounds = {}, {}
    for secure in (False, True):
        scratch = tmp_path / f"secure-{secure}"
        scratch.mkdir()
        rounds[secure] = []
        learned[secure] = run_federation(
            replace(plan, secure_aggregation=secure), tables, python=flower, scratch=scratch,
            on_round=rounds[secure].append, on_client_lost=lambda name, why: None)
    for plain, secure in zip(learned[False], learned[True], strict=True):
        np.testing.assert_allclose(secure, plain, atol=1e-3)
    assert [r["secure_aggregation"] for r in rounds[True]] == [True]
    # the secure round's key exchange and masks travel too: it costs more bytes
    assert (rounds[True][-1]["clients"]["client-0"]["bytes_up"]
            > rounds[False][-1]["clients"]["client-0"]["bytes_up"])


@pytest.mark.slow
@pytest.mark.timeout(SLOW_FEDERATION_S)
def test_a_client_killed_during_a_secure_round_leaves_enough_to_finish_it(tmp_path, flower):
    # killed as its round-2 setup message arrives: lost before its key shares went out,
    # which Flower's own SecAgg+ workflow could not finish without (flower_secure)
    plan, tables = credit_holders(tmp_path, n_clients=3)
    plan = replace(plan, secure_aggregation=True, min_clients=2)  # SecAgg+ needs 2 of 3
    rounds: list[dict] = []
    lost: list[str] = []

    def kill_client_2_once_round_2_trains(record: dict) -> None:
        rounds.append(record)
        if record["round"] == 1:
            kill_at_round_2_setup(tmp_path, "client-2")

    weights = run_federation(plan, tables, python=flower, scratch=tmp_path,
                             on_round=kill_client_2_once_round_2_trains,
                             on_client_lost=lambda name, why: lost.append(name))
    assert len(rounds) == 2
    assert sorted(rounds[1]["clients"]) == ["client-0", "client-1"]
    assert lost == ["client-2"]
    assert all(np.isfinite(w).all() for w in weights)


@pytest.mark.slow
@pytest.mark.timeout(SLOW_FEDERATION_S)
def test_a_secure_round_left_below_its_quorum_fails_naming_the_clients_lost(tmp_path, flower):
    plan, tables = credit_holders(tmp_path, n_clients=3)
    plan = replace(plan, secure_aggregation=True, min_clients=2)

    def kill_two_once_round_2_trains(record: dict) -> None:
        if record["round"] == 1:
            kill_at_round_2_setup(tmp_path, "client-1", "client-2")

    with pytest.raises(FederationFailed) as failed:
        run_federation(plan, tables, python=flower, scratch=tmp_path,
                       on_round=kill_two_once_round_2_trains,
                       on_client_lost=lambda name, why: None)
    why = str(failed.value)
    assert "round 2: secure aggregation (SecAgg+) halted at its" in why
    assert "client-1 (in its" in why and "client-2 (in its" in why
    assert "leaving 1 client(s), and rebuilding the sum of their updates needs 2" in why


def kill_at_round_2_setup(scratch: Path, *names: str) -> None:
    """SIGKILL each holder as its round-2 SecAgg+ setup message reaches its SuperNode."""
    for name in names:
        log, deadline = scratch / f"{name}.log", time.monotonic() + 120
        while "ROUND 2]" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        kill_holder(name)


def test_secure_aggregation_refuses_a_minimum_below_what_it_needs_to_rebuild_keys(
        tmp_path, flower, monkeypatch):
    monkeypatch.setenv("TRAINFORGE_FLOWER_VENV", str(flower.parents[1]))
    config = FederatedSimulationConfig(data="credit_g.csv", target="class", clients=10,
                                       min_clients=3, secure_aggregation=True)
    with pytest.raises(ConfigError, match="--min-clients 3 is below the 6 of 10 clients"):
        run_federated_simulation(config, workspace=Workspace(tmp_path))
