"""A throwaway PostgreSQL cluster for tests, or a skip saying why there cannot be one.

Needs the server binaries (Debian: `apt-get install -y postgresql`) and psycopg
(`pip install -e .[postgres]`). As root, the server runs as the `postgres` user.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from trainforge.workspace import Workspace


def _server_binaries() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def _as_server_user() -> list[str]:
    """PostgreSQL refuses to run as root: run it as the `postgres` user then."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") is None:
        pytest.skip("running as root and `runuser` is missing, so PostgreSQL cannot start")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no `postgres` user to run PostgreSQL as")
    return ["runuser", "-u", "postgres", "--"]


@dataclass(frozen=True)
class Cluster:
    """A running test cluster: its SQLAlchemy URL, and stop/start for outage tests."""

    url: str
    data: Path
    as_server_user: list[str]
    binaries: Path

    def stop(self) -> None:
        """``pg_ctl stop -m fast``: clients are disconnected and the socket goes away."""
        _run([*self.as_server_user, str(self.binaries / "pg_ctl"), "-D", str(self.data),
              "-w", "-m", "fast", "stop"])

    def start(self) -> None:
        socket_dir = self.data.parent
        _run([*self.as_server_user, str(self.binaries / "pg_ctl"), "-D", str(self.data), "-w",
              "-o", f"-k {socket_dir} -c listen_addresses='' -c fsync=off",
              "-l", str(socket_dir / "server.log"), "start"])


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """Start a cluster listening on a Unix socket only; yields its SQLAlchemy URL."""
    with running_cluster() as cluster:
        yield cluster.url


@contextmanager
def running_cluster() -> Iterator[Cluster]:
    """Start a cluster of its own (a test may stop and start it); yields it."""
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e .[postgres]")
    binaries = _server_binaries()
    if binaries is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed; on Debian: "
                    "apt-get install -y postgresql")
    as_server_user = _as_server_user()
    # not tmp_path: pytest's temp root is private to its user, and the server may run as postgres
    directory = Path(tempfile.mkdtemp(prefix="trainforge-pg-"))
    cluster = Cluster(url=f"postgresql+psycopg://postgres@/postgres?host={directory}",
                      data=directory / "data", as_server_user=as_server_user, binaries=binaries)
    try:
        if as_server_user:
            shutil.chown(directory, user="postgres")
        _run([*as_server_user, str(binaries / "initdb"), "-D", str(cluster.data),
              "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        cluster.start()
        yield cluster
    finally:
        if (cluster.data / "postmaster.pid").exists():
            subprocess.run([*as_server_user, str(binaries / "pg_ctl"), "-D", str(cluster.data),
                            "-m", "immediate", "stop"], capture_output=True, check=False)
        shutil.rmtree(directory, ignore_errors=True)


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")


@contextmanager
def postgres_workspace(url: str, home: Path) -> Iterator[Workspace]:
    """A workspace on the cluster, whose tables are dropped afterwards for the next test."""
    ws = Workspace(home, database_url=url)
    try:
        yield ws
    finally:
        with ws.engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        ws.close()
