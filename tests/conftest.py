"""Shared fixtures: every test gets its own workspace; nothing touches ~/.trainforge."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# tests share 2 cores: keep every library to one thread unless a test says otherwise
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "trainforge-home"
    monkeypatch.setenv("TRAINFORGE_HOME", str(home))
    monkeypatch.delenv("TRAINFORGE_DATABASE_URL", raising=False)
    return home


@pytest.fixture
def home(_isolated_home: Path) -> Path:
    return _isolated_home


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster for the whole run (skips, saying why, without one)."""
    from tests.store.postgres_cluster import postgres_cluster

    with postgres_cluster() as url:
        yield url


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> object:
    """``cli("train", DATA, "--target", "y", home=...)``: the command run in this process."""
    from tests._cli import InProcessCli

    return InProcessCli(monkeypatch, capsys)
