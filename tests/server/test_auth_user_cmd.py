"""`trainforge user …`: accounts of the local workspace, managed from the server's machine."""

from __future__ import annotations

import io
import re
import stat
from pathlib import Path

import pytest

from trainforge.cli.app import run
from trainforge.store import access
from trainforge.workspace import Workspace

PASSWORD = "correct horse battery"


def _written_password(home: Path, username: str) -> str:
    text = (home / "secrets" / f"user-{username}.txt").read_text()
    found = re.search(r"^password: (\S+)$", text, flags=re.MULTILINE)
    assert found is not None
    return found.group(1)


def test_a_created_user_gets_a_generated_password_in_a_private_file_not_on_screen(
        home: Path, capsys: pytest.CaptureFixture[str]):
    assert run(["user", "create", "ana", "--role", "editor"]) == 0
    password, printed = _written_password(home, "ana"), capsys.readouterr()
    assert password not in printed.out + printed.err and "user-ana.txt" in printed.out
    assert stat.S_IMODE((home / "secrets" / "user-ana.txt").stat().st_mode) == 0o600
    assert access.authenticate(Workspace(), "ana", password).role == "editor"


def test_a_password_can_be_given_on_stdin(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert run(["user", "create", "ana", "--role", "viewer", "--password-stdin"]) == 0
    assert access.authenticate(Workspace(), "ana", PASSWORD).name == "ana"


def test_passwd_sets_a_new_password_and_removes_the_stale_generated_one(
        home: Path, monkeypatch: pytest.MonkeyPatch):
    run(["user", "create", "ana", "--role", "viewer"])
    monkeypatch.setattr("sys.stdin", io.StringIO("a brand new passphrase\n"))
    assert run(["user", "passwd", "ana", "--password-stdin"]) == 0
    assert access.authenticate(Workspace(), "ana", "a brand new passphrase").name == "ana"
    assert not (home / "secrets" / "user-ana.txt").exists()


def test_disable_and_enable_switch_whether_a_user_may_log_in():
    access.create_user(Workspace(), username="ana", password=PASSWORD, role="viewer")
    assert run(["user", "disable", "ana"]) == 0
    assert access.authenticate(Workspace(), "ana", PASSWORD) is None
    assert run(["user", "enable", "ana"]) == 0
    assert access.authenticate(Workspace(), "ana", PASSWORD).name == "ana"


def test_list_shows_each_user_with_role_and_state(capsys: pytest.CaptureFixture[str]):
    access.create_user(Workspace(), username="ana", password=PASSWORD, role="editor")
    access.create_user(Workspace(), username="bob", password=PASSWORD, role="viewer")
    access.disable_user(Workspace(), "bob")
    assert run(["user", "list"]) == 0
    rows = {line.split()[1]: line for line in capsys.readouterr().out.splitlines()
            if line.split()[1:2] in (["ana"], ["bob"])}
    assert "editor" in rows["ana"] and "disabled" not in rows["ana"]
    assert "viewer" in rows["bob"] and "disabled" in rows["bob"]


def test_an_unknown_user_is_an_error_naming_the_list_command(
        capsys: pytest.CaptureFixture[str]):
    assert run(["user", "disable", "nobody"]) != 0
    assert "trainforge user list" in capsys.readouterr().err
