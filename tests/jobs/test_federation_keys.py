"""A holder's SuperNode key (jobs/federation_keys.py): the pair `federated join` makes, and the
check the server gives the public key a join sends."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from trainforge.errors import InvalidField
from trainforge.jobs.federation_keys import check_public_key, make_holder_key


def test_a_holders_private_key_is_readable_by_its_owner_alone(tmp_path):
    private_key, _ = make_holder_key(tmp_path)
    assert private_key.stat().st_mode & 0o077 == 0


def test_the_private_key_is_an_openssh_ec_key_whose_public_half_the_join_sends(tmp_path):
    private_key, public_key = make_holder_key(tmp_path)
    # what Flower's SuperNode reads its --auth-supernode-private-key with
    loaded = serialization.load_ssh_private_key(private_key.read_bytes(), None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    assert loaded.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode() == public_key


def test_each_join_makes_a_key_pair_of_its_own(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert make_holder_key(tmp_path / "a")[1] != make_holder_key(tmp_path / "b")[1]


def test_a_holders_public_key_passes_the_check_as_sent(tmp_path):
    _, public_key = make_holder_key(tmp_path)
    assert check_public_key(public_key) == public_key


def test_an_oversized_public_key_is_refused_before_it_is_parsed():
    with pytest.raises(InvalidField, match=r"^public_key: 5,000 characters is no OpenSSH"):
        check_public_key("A" * 5_000)
