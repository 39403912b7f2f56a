"""`python scripts/cluster.py up|status|down`, the one command the README gives to try the
scaled-out set-up on one machine: what `up` prints works, and `down` leaves nothing running."""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import psutil
import pytest
import sqlalchemy as sa
from tests._paths import ROOT

pytestmark = pytest.mark.cluster

SCRIPT = ROOT / "scripts" / "cluster.py"


def cluster_command(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *arguments], capture_output=True,
                          text=True, timeout=300, check=False)


def exported(printed: str) -> dict[str, str]:
    """The `export NAME=VALUE` lines, read as a shell would."""
    pairs = (shlex.split(line.removeprefix("export "))[0].split("=", 1)
             for line in printed.splitlines() if line.startswith("export "))
    return dict(pairs)


@pytest.fixture
def folder() -> Iterator[Path]:
    # not tmp_path: Ray's socket paths under it must stay short, and PostgreSQL's user reach it
    parent = Path(tempfile.mkdtemp(prefix="tfc", dir="/tmp"))
    parent.chmod(0o711)  # mkdtemp's folder is private: let PostgreSQL's user pass through
    try:
        yield parent / "cluster"
    finally:
        if (parent / "cluster" / "state.json").exists():
            cluster_command("down", "--dir", str(parent / "cluster"))
        parent.rmdir()


def test_cluster_up_prints_what_answers_and_down_stops_all_it_started(folder: Path):
    started = cluster_command("up", "--dir", str(folder))
    assert started.returncode == 0, started.stdout + started.stderr
    env = exported(started.stdout)
    assert "trainforge server --backend ray" in started.stdout
    state = json.loads((folder / "state.json").read_text())
    launched = [process for pid in state["processes"].values()
                for process in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]]
    with sa.create_engine(env["TRAINFORGE_DATABASE_URL"]).connect() as connection:
        assert connection.execute(sa.text("SELECT 1")).scalar_one() == 1
    bucket = env["TRAINFORGE_ARTIFACTS"].removeprefix("s3://").split("/")[0]
    s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"],
                      aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    s3.head_bucket(Bucket=bucket)
    assert cluster_command("status", "--dir", str(folder)).stdout.count(": running") == 4

    stopped = cluster_command("down", "--dir", str(folder))
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not any(process.is_running() for process in launched)
    assert not answers(state["postgres"]["port"])
    assert not folder.exists()


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
