"""A federation of processes on Flower's deployment runtime (a SuperLink, a SuperNode per
holder): it loses a client and goes on while the plan's minimum are left, gives up a round
short of clients saying how many joined, and speaks TLS when given certificates.

Needs Flower's virtualenv (`make test-federated` runs it).
"""

from __future__ import annotations

import subprocess
from dataclasses import replace

import pytest
from tests.federated._certificates import self_signed
from tests.federated._holders import SLOW_FEDERATION_S, credit_holders, kill_holder

from trainforge.errors import FederationFailed
from trainforge.federated.processes import run_federation, start_coordinator, start_holder

pytestmark = [pytest.mark.federated, pytest.mark.slow]


def stop(holders: list[subprocess.Popen[bytes]]) -> None:
    for holder in holders:
        holder.terminate()
        holder.wait()


@pytest.mark.timeout(SLOW_FEDERATION_S)
def test_a_client_killed_during_the_rounds_leaves_the_others_to_finish(tmp_path, flower):
    plan, tables = credit_holders(tmp_path, n_clients=3)
    plan = replace(plan, rounds=3, min_clients=2)
    rounds, lost = [], []

    def kill_client_2_after_round_1(record: dict) -> None:
        rounds.append(record)
        if record["round"] == 1:
            kill_holder("client-2")

    weights = run_federation(plan, tables, python=flower, scratch=tmp_path,
                             on_round=kill_client_2_after_round_1,
                             on_client_lost=lambda name, why: lost.append(name))
    assert sorted(rounds[0]["clients"]) == ["client-0", "client-1", "client-2"]
    assert sorted(rounds[-1]["clients"]) == ["client-0", "client-1"]
    assert len(rounds) == 3
    assert lost == ["client-2"]
    assert weights[0].shape == (2, plan.schema.preprocessor().n_features_out_)


def test_a_round_short_of_clients_gives_up_saying_how_many_joined(tmp_path, flower):
    plan, tables = credit_holders(tmp_path, n_clients=2)
    plan = replace(plan, min_clients=3, round_timeout_s=45.0)
    heard: list[str] = []
    with pytest.raises(FederationFailed, match=r"round 1 waited 45 s for 3 clients and 2 of "
                                               r"3 joined"):
        run_federation(plan, tables, python=flower, scratch=tmp_path, on_round=heard.append,
                       on_client_lost=lambda name, why: None, on_waiting=heard.append)
    assert "round 1 waits for its clients: 2 of the 3 it needs have joined" in heard


def test_holders_join_a_coordinator_over_tls_with_a_self_signed_certificate(tmp_path, flower):
    plan, tables = credit_holders(tmp_path, n_clients=2)
    plan = replace(plan, rounds=1)
    certificates = self_signed(tmp_path)
    coordinator = start_coordinator(plan, python=flower, scratch=tmp_path,
                                    certificates=certificates)
    holders = [start_holder(coordinator.address, plan, table, name, python=flower,
                            scratch=tmp_path, root_certificate=certificates.ca_certificate)
               for name, table in tables]
    rounds: list[dict] = []
    try:
        weights = coordinator.follow(rounds.append, lambda name, why: None)
    finally:
        stop(holders)
        coordinator.stop()
    assert sorted(rounds[0]["clients"]) == ["client-0", "client-1"]
    assert weights[0].shape == (2, plan.schema.preprocessor().n_features_out_)
    assert "Starting insecure" not in (tmp_path / "coordinator.log").read_text()


def test_a_holder_without_the_certificate_authority_cannot_join(tmp_path, flower):
    plan, tables = credit_holders(tmp_path, n_clients=2)
    plan = replace(plan, rounds=1, round_timeout_s=20.0)
    coordinator = start_coordinator(plan, python=flower, scratch=tmp_path,
                                    certificates=self_signed(tmp_path))
    # trusting another authority, the holders' TLS handshakes fail: no round can start
    (tmp_path / "stranger").mkdir()
    stranger = self_signed(tmp_path / "stranger")
    holders = [start_holder(coordinator.address, plan, table, name, python=flower,
                            scratch=tmp_path, root_certificate=stranger.ca_certificate)
               for name, table in tables]
    try:
        with pytest.raises(FederationFailed, match="0 of 2 joined"):
            coordinator.follow(lambda record: None, lambda name, why: None)
    finally:
        stop(holders)
        coordinator.stop()
