"""Logging in under attack: wrong passwords are rate-limited per user and per address, and
checking a password never holds up the rest of the server."""

from __future__ import annotations

import threading

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.server._jobs import running_app
from tests.server._ui import log_in
from tests.server.conftest import bearer

from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app
from trainforge.server.auth import SESSION_COOKIE
from trainforge.server.login_limits import LoginThrottle
from trainforge.store import access

PASSWORD = "correct horse battery"
WRONG = "not the password"


@pytest.fixture
def users(workspace):
    for name in ("ana", "bob"):
        access.create_user(workspace, username=name, password=PASSWORD, role="viewer")


@pytest.fixture
def app(workspace, users):
    return create_server_app(workspace, ServerConfig())


def _from(app, address: str) -> TestClient:
    return TestClient(app, client=(address, 50000))


def test_after_five_wrong_passwords_in_a_minute_even_the_right_one_gets_a_429(app):
    client = _from(app, "10.0.0.1")
    assert [log_in(client, "ana", WRONG).status_code for _ in range(5)] == [401] * 5
    answer = log_in(client, "ana", PASSWORD)
    assert answer.status_code == 429 and 1 <= int(answer.headers["retry-after"]) <= 60
    assert "Too many failed logins" in answer.text and SESSION_COOKIE not in client.cookies


def test_another_user_logs_in_while_one_is_limited(app):
    client = _from(app, "10.0.0.1")
    for _ in range(6):
        log_in(client, "ana", WRONG)
    assert log_in(client, "bob", PASSWORD).status_code == 303


@pytest.mark.slow
def test_an_address_guessing_many_names_is_limited_and_another_address_is_not(app):
    attacker = _from(app, "10.0.0.66")
    answers = [log_in(attacker, f"guess{i}", WRONG).status_code for i in range(20)]
    assert answers == [401] * 20
    assert log_in(attacker, "ana", PASSWORD).status_code == 429
    assert log_in(_from(app, "10.0.0.2"), "ana", PASSWORD).status_code == 303


@pytest.mark.slow
def test_a_successful_login_clears_the_users_failures(app):
    client = _from(app, "10.0.0.1")
    for _ in range(4):
        log_in(client, "ana", WRONG)
    assert log_in(client, "ana", PASSWORD).status_code == 303
    client.cookies.clear()
    assert [log_in(client, "ana", WRONG).status_code for _ in range(5)] == [401] * 5


def test_the_throttle_remembers_a_bounded_number_of_made_up_names():
    throttle = LoginThrottle(max_tracked=100)
    for i in range(1000):
        throttle.admit(f"made-up-{i}", f"10.0.{i // 250}.{i % 250}")
    assert throttle.n_tracked() <= 100


def test_a_limited_user_may_try_again_once_the_minute_has_passed():
    now = [1000.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for _ in range(5):
        assert throttle.admit("ana", "10.0.0.1") is None
    assert throttle.admit("ana", "10.0.0.1") == 60
    now[0] += 60.5
    assert throttle.admit("ana", "10.0.0.1") is None


def test_an_api_call_is_answered_while_a_password_is_being_checked(
        app, monkeypatch: pytest.MonkeyPatch, tokens):
    checking, release = threading.Event(), threading.Event()
    real_authenticate = access.authenticate

    def slow_authenticate(*args, **kwargs):  # a password check that lasts until released
        checking.set()
        release.wait(timeout=10)
        return real_authenticate(*args, **kwargs)

    monkeypatch.setattr(access, "authenticate", slow_authenticate)
    with running_app(app) as url:
        form = httpx.get(f"{url}/login")
        token = form.text.split('name="login_token" value="')[1].split('"')[0]
        login = threading.Thread(target=httpx.post, args=(f"{url}/login",), kwargs={
            "data": {"username": "ana", "password": WRONG, "login_token": token},
            "cookies": form.cookies, "timeout": 20})
        login.start()
        try:
            assert checking.wait(timeout=10)
            me = httpx.get(f"{url}/api/v1/me", headers=bearer(tokens["viewer"]), timeout=2)
        finally:
            release.set()
            login.join(timeout=20)
    assert me.status_code == 200


def test_a_disabled_users_session_is_refused_at_once(app, workspace):
    client = _from(app, "10.0.0.1")
    assert log_in(client, "ana", PASSWORD).status_code == 303
    assert client.get("/api/v1/me").status_code == 200
    access.disable_user(workspace, "ana")
    assert client.get("/api/v1/me").status_code == 401


def test_a_disabled_users_tokens_are_refused(app, workspace):
    token, _ = access.create_token(workspace, name="ana-ci", role="viewer", created_by="ana")
    access.disable_user(workspace, "ana")
    assert _from(app, "10.0.0.1").get("/api/v1/me", headers=bearer(token)).status_code == 401
