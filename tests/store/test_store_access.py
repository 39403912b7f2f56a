"""Tokens, users and sessions in the store: hashed, revocable, and ranked by role."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from trainforge.errors import ConfigError, UserNotFound
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


def test_an_annotator_ranks_above_a_viewer_and_below_an_editor():
    annotator = access.Principal("a", "annotator", "token")
    assert annotator.may("viewer") and annotator.may("annotator") and not annotator.may("editor")


def test_an_unknown_role_is_refused_naming_the_roles(ws):
    with pytest.raises(ConfigError, match="viewer, annotator, editor, admin"):
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


PASSWORD = "correct horse battery"


@pytest.fixture
def ana(ws) -> str:
    access.create_user(ws, username="ana", password=PASSWORD, role="editor")
    return "ana"


def test_a_changed_password_logs_in_and_the_old_one_no_longer_does(ws, ana):
    access.set_password(ws, ana, password="a brand new passphrase")
    assert access.authenticate(ws, ana, "a brand new passphrase").name == ana
    assert access.authenticate(ws, ana, PASSWORD) is None


def test_changing_a_password_ends_the_users_sessions(ws, ana):
    secret, _ = access.create_session(ws, ana)
    access.set_password(ws, ana, password="a brand new passphrase")
    assert access.session_principal(ws, secret) is None


def test_a_disabled_user_cannot_log_in_and_their_sessions_end(ws, ana):
    secret, _ = access.create_session(ws, ana)
    access.disable_user(ws, ana)
    assert access.authenticate(ws, ana, PASSWORD) is None
    access.enable_user(ws, ana)
    assert access.session_principal(ws, secret) is None  # ended, not just suspended


def test_an_enabled_user_logs_in_again(ws, ana):
    access.disable_user(ws, ana)
    access.enable_user(ws, ana)
    assert access.authenticate(ws, ana, PASSWORD).name == ana


def test_the_tokens_a_user_created_stop_working_while_the_user_is_disabled(ws, ana):
    token, _ = access.create_token(ws, name="ci", role="editor", created_by=ana)
    access.disable_user(ws, ana)
    assert access.principal_for_token(ws, token) is None
    access.enable_user(ws, ana)
    assert access.principal_for_token(ws, token).name == "ci"


def test_disabling_a_user_leaves_other_peoples_tokens_working(ws, ana):
    token, _ = access.create_token(ws, name="ci", role="editor", created_by="cli")
    access.disable_user(ws, ana)
    assert access.principal_for_token(ws, token).name == "ci"


def test_users_are_listed_with_role_state_and_last_login_but_no_hash(ws, ana):
    access.create_user(ws, username="bob", password=PASSWORD, role="viewer")
    access.create_session(ws, ana)  # what a successful login does
    listed = {user["username"]: user for user in access.list_users(ws)}
    assert set(listed["ana"]) == {"username", "role", "disabled", "created_at", "last_login_at"}
    assert listed["ana"]["last_login_at"] is not None and listed["bob"]["last_login_at"] is None
    assert (listed["bob"]["role"], listed["bob"]["disabled"]) == ("viewer", False)


def test_changing_an_unknown_user_says_how_to_list_the_users(ws):
    with pytest.raises(UserNotFound, match="no user named 'nobody'.*trainforge user list"):
        access.disable_user(ws, "nobody")


@pytest.mark.parametrize("username", ["", "a b", "../x", "x" * 101, "-dash", "ana\n"])
def test_a_user_name_outside_letters_digits_and_dot_dash_underscore_at_is_refused(ws, username):
    with pytest.raises(ConfigError, match="user name"):
        access.create_user(ws, username=username, password=PASSWORD, role="viewer")


def test_a_password_over_1024_characters_is_refused(ws, ana):
    with pytest.raises(ConfigError, match="1024 characters"):
        access.set_password(ws, ana, password="x" * 1025)


def test_a_generated_password_is_long_enough_to_be_accepted(ws):
    access.create_user(ws, username="cy", password=access.generate_password(), role="viewer")
