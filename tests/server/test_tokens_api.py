"""API tokens over HTTP (admin only): created and shown once, listed without secrets, revoked."""

from __future__ import annotations

import pytest
from tests.server.conftest import bearer


def test_a_created_token_is_shown_once_and_works_at_once(client, tokens):
    made = client.post("/api/v1/tokens", headers=bearer(tokens["admin"]),
                       json={"role": "editor", "name": "ci"})
    assert made.status_code == 201 and made.json()["token"].startswith("tf_")
    me = client.get("/api/v1/me", headers=bearer(made.json()["token"])).json()
    assert me == {"name": "ci", "role": "editor", "via": "token"}


def test_listed_tokens_carry_no_secret_or_hash(client, tokens):
    listed = client.get("/api/v1/tokens", headers=bearer(tokens["admin"])).json()
    assert sorted(t["name"] for t in listed) == ["admin-token", "editor-token", "viewer-token"]
    assert not any(set(t) & {"token", "token_sha256"} for t in listed)


def test_a_revoked_token_is_refused_on_its_next_request(client, tokens, workspace):
    victim = tokens["editor"]
    assert client.get("/api/v1/me", headers=bearer(victim)).status_code == 200  # now cached
    token_id = victim.split("_")[1]
    revoked = client.delete(f"/api/v1/tokens/{token_id}", headers=bearer(tokens["admin"]))
    assert revoked.json()["revoked_at"] is not None
    assert client.get("/api/v1/me", headers=bearer(victim)).status_code == 401


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_managing_tokens_needs_the_admin_role(client, tokens, role):
    answer = client.post("/api/v1/tokens", headers=bearer(tokens[role]), json={"role": "admin"})
    assert answer.status_code == 403 and "admin role" in answer.json()["detail"]


def test_a_role_that_does_not_exist_is_a_422(client, tokens):
    answer = client.post("/api/v1/tokens", headers=bearer(tokens["admin"]), json={"role": "root"})
    assert answer.status_code == 422
