"""A Postgres that does not answer: the store says the database is unreachable, promptly,
and never shows the URL's password."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from trainforge.errors import DatabaseUnreachable, StoreUnavailable
from trainforge.store import engine as store_engine
from trainforge.workspace import Workspace

pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e .[postgres]")


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 that takes connections (the kernel's backlog) and never answers."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(8)
        yield int(listening.getsockname()[1])


def test_a_database_that_never_answers_is_unreachable_after_the_connect_timeout(
        silent_port: int, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(store_engine, "POSTGRES_CONNECT_TIMEOUT_S", 2)  # libpq's least
    engine = store_engine.create_store_engine(
        f"postgresql+psycopg://app:hunter2@127.0.0.1:{silent_port}/trainforge")
    started = time.monotonic()
    with pytest.raises(DatabaseUnreachable, match="unreachable") as raised:
        engine.connect()
    assert time.monotonic() - started < 10
    assert "hunter2" not in str(raised.value)


def test_a_password_in_the_urls_query_is_not_shown_either():
    url = sa.make_url("postgresql+psycopg://app@db.internal/trainforge?password=hunter2")
    assert "hunter2" not in store_engine.shown_url(url)


def test_opening_a_workspace_on_an_absent_postgres_says_the_drivers_reason(tmp_path: Path):
    with pytest.raises(StoreUnavailable, match=r"(?s)No such file or directory.*check "
                                               "TRAINFORGE_DATABASE_URL") as raised:
        Workspace(tmp_path, database_url="postgresql+psycopg://app:hunter2@/trainforge"
                                         f"?host={tmp_path / 'no-server-here'}").engine.connect()
    assert "hunter2" not in str(raised.value)
