"""Access control at the server's edge: 401 without a valid token, sessions need CSRF."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from tests.server.conftest import bearer

from trainforge.server.auth import SESSION_COOKIE, require
from trainforge.store import access
from trainforge.store.access import Principal


def test_without_a_token_every_api_call_is_a_401_saying_how_to_get_one(client):
    answer = client.get("/api/v1/me")
    assert answer.status_code == 401 and "trainforge token create" in answer.json()["detail"]
    assert answer.headers["www-authenticate"] == "Bearer"


def test_a_made_up_or_revoked_token_is_a_401(client, workspace):
    token, record = access.create_token(workspace, name="old", role="admin")
    access.revoke_token(workspace, record["id"])
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert client.get("/api/v1/me", headers=bearer("tf_0_x")).status_code == 401


def test_a_token_is_answered_with_its_name_and_role(client, tokens):
    answer = client.get("/api/v1/me", headers=bearer(tokens["viewer"]))
    assert answer.json() == {"name": "viewer-token", "role": "viewer", "via": "token"}


def test_a_role_too_low_is_a_403_naming_the_role_needed(client, tokens):
    @client.app.post("/api/v1/_test_deploy")
    async def deploy(who: Annotated[Principal, Depends(require("editor", "deploy models"))]) -> dict:
        return {"ok": True}

    refused = client.post("/api/v1/_test_deploy", headers=bearer(tokens["viewer"]))
    assert refused.status_code == 403 and "editor role" in refused.json()["detail"]
    assert client.post("/api/v1/_test_deploy", headers=bearer(tokens["editor"])).json() == {
        "ok": True}


def test_a_session_cookie_reads_but_changes_nothing_without_its_csrf_token(client, workspace):
    @client.app.post("/api/v1/_test_change")
    async def change(who: Annotated[Principal, Depends(require("viewer", "change things"))]) -> dict:
        return {"ok": True}

    access.create_user(workspace, username="ana", password="correct horse battery",
                       role="viewer")
    secret, csrf = access.create_session(workspace, "ana")
    client.cookies.set(SESSION_COOKIE, secret)
    assert client.get("/api/v1/me").json()["via"] == "session"
    assert client.post("/api/v1/_test_change").status_code == 403
    assert client.post("/api/v1/_test_change", headers={"X-CSRF-Token": "wrong"}
                       ).status_code == 403
    assert client.post("/api/v1/_test_change", headers={"X-CSRF-Token": csrf}).json() == {
        "ok": True}
