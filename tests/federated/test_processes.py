"""A federation of processes on Flower's deployment runtime (a SuperLink, a SuperNode per
holder): it loses a client and goes on while the plan's minimum are left, gives up a round
short of clients saying how many joined, and speaks TLS when given certificates, admitting
only the SuperNodes whose keys were registered with it, by a Control API that answers its own
machine only.

Needs Flower's virtualenv (`make test-federated` runs it).
"""

from __future__ import annotations

import ssl
import subprocess
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from tests.federated._certificates import self_signed
from tests.federated._holders import SLOW_FEDERATION_S, credit_holders, kill_holder

from trainforge.errors import FederationFailed
from trainforge.federated.plan import FederationPlan
from trainforge.federated.processes import (
    START_TIMEOUT_S,
    Certificates,
    Coordinator,
    holder_log,
    register_holder,
    run_federation,
    start_coordinator,
    start_holder,
)
from trainforge.jobs.federation_keys import make_holder_key

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


def registered_holder(coordinator: Coordinator, plan: FederationPlan, name: str, table: Path,
                      *, python: Path, scratch: Path, certificates: Certificates,
                      register: bool = True) -> subprocess.Popen[bytes]:
    """A holder's SuperNode with a key pair of its own, its public key registered with the
    coordinator first unless ``register`` is False."""
    folder = scratch / f"{name}-key"
    folder.mkdir()
    private_key, public_key = make_holder_key(folder)
    if register:
        register_holder(coordinator.address, public_key, name, python=python,
                        root_certificate=certificates.ca_certificate, scratch=folder)
    return start_holder(coordinator.address, plan, table, name, python=python, scratch=scratch,
                        root_certificate=certificates.ca_certificate, private_key=private_key)


def test_holders_join_a_coordinator_over_tls_with_a_self_signed_certificate(tmp_path, flower):
    plan, tables = credit_holders(tmp_path, n_clients=2)
    plan = replace(plan, rounds=1)
    certificates = self_signed(tmp_path)
    coordinator = start_coordinator(plan, python=flower, scratch=tmp_path,
                                    certificates=certificates)
    holders = [registered_holder(coordinator, plan, name, table, python=flower,
                                 scratch=tmp_path, certificates=certificates)
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


@pytest.mark.timeout(SLOW_FEDERATION_S)
def test_a_supernode_whose_key_nobody_registered_is_refused_and_never_takes_part(tmp_path,
                                                                                 flower):
    plan, tables = credit_holders(tmp_path, n_clients=3)
    plan = replace(plan, rounds=1, min_clients=2)
    certificates = self_signed(tmp_path)
    coordinator = start_coordinator(plan, python=flower, scratch=tmp_path,
                                    certificates=certificates)
    (stranger_name, stranger_table), *members = tables
    stranger = registered_holder(coordinator, plan, stranger_name, stranger_table,
                                 python=flower, scratch=tmp_path, certificates=certificates,
                                 register=False)
    holders = [registered_holder(coordinator, plan, name, table, python=flower,
                                 scratch=tmp_path, certificates=certificates)
               for name, table in members]
    rounds: list[dict] = []
    try:
        stranger_status = stranger.wait(timeout=START_TIMEOUT_S)
        coordinator.follow(rounds.append, lambda name, why: None)
    finally:
        stop([stranger, *holders])
        coordinator.stop()
    assert stranger_status != 0
    assert "Failed to activate SuperNode" in holder_log(tmp_path, stranger_name).read_text()
    assert sorted(rounds[0]["clients"]) == ["client-1", "client-2"]


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


def test_its_control_api_refuses_a_caller_elsewhere_on_the_network(tmp_path, flower):
    plan, _ = credit_holders(tmp_path, n_clients=2)
    certificates = self_signed(tmp_path)
    coordinator = start_coordinator(plan, python=flower, scratch=tmp_path,
                                    certificates=certificates)
    trust = ssl.create_default_context(cafile=str(certificates.ca_certificate))
    url = f"https://{coordinator.address}/v1/control/register-node"
    try:
        # 127.0.0.3 is no address the SuperLink binds: a stand-in for another machine
        with httpx.Client(transport=httpx.HTTPTransport(verify=trust,
                                                        local_address="127.0.0.3")) as elsewhere:
            refused = elsewhere.post(url, content=b"")
        with httpx.Client(verify=trust) as here:
            answered = here.post(url, content=b"")
    finally:
        coordinator.stop()
    assert refused.status_code == 403, refused.text
    assert "Control API on its own machine only" in refused.json()["detail"]
    assert answered.status_code != 403, answered.text  # Flower's own answer to an empty body
