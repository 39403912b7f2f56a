"""Tokens, users and sessions in the store: hashed, revocable, and ranked by role."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from trainforge.errors import ConfigError
from trainforge.store import access
from trainforge.store.tables import api_tokens, users
from trainforge.workspace import Workspace


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace(tmp_path)


def test_a_new_token_identifies_its_role_and_is_stored_only_as_a_hash(ws):
    token, record = access.create_token(ws, name="ci", role="editor")
    assert access.principal_for_token(ws, token) == access.Principal("ci", "editor", "token")
    with ws.engine.connect() as connection:
        stored = connection.execute(sa.select(api_tokens)).one()._mapping
    assert token not in str(dict(stored)) and record["id"] in token


def test_a_revoked_or_made_up_token_identifies_no_one(ws):
    token, record = access.create_token(ws, name="ci", role="viewer")
    access.revoke_token(ws, record["id"])
    assert access.principal_for_token(ws, token) is None
    assert access.principal_for_token(ws, token[:-1] + "x") is None
    assert access.principal_for_token(ws, "Bearer nonsense") is None


def test_token_listings_never_show_the_hash(ws):
    access.create_token(ws, name="a", role="admin")
    assert "token_sha256" not in access.list_tokens(ws)[0]


def test_roles_rank_viewer_below_editor_below_admin():
    editor = access.Principal("e", "editor", "token")
    assert editor.may("viewer") and editor.may("editor") and not editor.may("admin")


def test_an_unknown_role_is_refused_naming_the_roles(ws):
    with pytest.raises(ConfigError, match="viewer, editor, admin"):
        access.create_token(ws, name="x", role="owner")


def test_the_first_admin_is_created_once_with_a_password_that_logs_in(ws):
    username, password = access.ensure_first_admin(ws)
    assert access.ensure_first_admin(ws) is None
    assert access.authenticate(ws, username, password).role == "admin"
    assert access.authenticate(ws, username, password + "!") is None
    with ws.engine.connect() as connection:
        assert password not in connection.execute(sa.select(users.c.password_hash)).scalar()


def test_a_session_carries_its_user_and_csrf_token_until_it_ends(ws):
    access.create_user(ws, username="ana", password="correct horse battery", role="viewer")
    secret, csrf = access.create_session(ws, "ana")
    principal, stored_csrf = access.session_principal(ws, secret)
    assert principal.name == "ana" and stored_csrf == csrf
    access.end_session(ws, secret)
    assert access.session_principal(ws, secret) is None


def test_a_short_password_is_refused(ws):
    with pytest.raises(ConfigError, match="12 characters"):
        access.create_user(ws, username="bob", password="short", role="viewer")
