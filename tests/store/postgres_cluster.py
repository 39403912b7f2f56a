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


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """Start a cluster listening on a Unix socket only; yields its SQLAlchemy URL."""
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e .[postgres]")
    binaries = _server_binaries()
    if binaries is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed; on Debian: "
                    "apt-get install -y postgresql")
    as_server_user = _as_server_user()
    # not tmp_path: pytest's temp root is private to its user, and the server may run as postgres
    cluster = Path(tempfile.mkdtemp(prefix="trainforge-pg-"))
    data = cluster / "data"
    try:
        if as_server_user:
            shutil.chown(cluster, user="postgres")
        _run([*as_server_user, str(binaries / "initdb"), "-D", str(data), "-U", "postgres",
              "--auth=trust", "-E", "UTF8", "--no-sync"])
        _run([*as_server_user, str(binaries / "pg_ctl"), "-D", str(data), "-w",
              "-o", f"-k {cluster} -c listen_addresses='' -c fsync=off",
              "-l", str(cluster / "server.log"), "start"])
        yield f"postgresql+psycopg://postgres@/postgres?host={cluster}"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*as_server_user, str(binaries / "pg_ctl"), "-D", str(data),
                            "-m", "immediate", "stop"], capture_output=True, check=False)
        shutil.rmtree(cluster, ignore_errors=True)


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
