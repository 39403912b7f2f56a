"""The platform journey on the scaled-out set-up, all started by the test on 127.0.0.1: the
metadata on a throwaway PostgreSQL, the artifacts in a SeaweedFS bucket, the jobs on a Ray
cluster of two nodes (one CPU each), and `trainforge server --backend ray` as its own process
pointed at them by the variables a user sets: sign in, upload, train (a job), deploy, predict,
batch predict (a job). `make test-cluster` runs it; `make test` leaves the `cluster` marker
out (it takes a minute or more here: three servers and two Ray nodes to start)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pandas as pd
import pytest
import ray
import sqlalchemy as sa
from tests.e2e._journey import CREDIT, sign_in, upload_to_batch_output
from tests.server._jobs import finished, free_port, wait_for
from tests.server._ray import ray_node
from tests.store.postgres_cluster import postgres_workspace

import trainforge
from trainforge.workspace import Workspace

pytestmark = pytest.mark.cluster
START_TIMEOUT_S = 90  # the server's start: joining the Ray cluster, migrating Postgres


@pytest.fixture
def workspace(postgres_url: str, tmp_path: Path) -> Iterator[Workspace]:
    """The test's view of the store the server uses (its tables dropped afterwards)."""
    with postgres_workspace(postgres_url, tmp_path / "home") as ws:
        yield ws


@pytest.fixture
def ray_cluster(s3_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A head and a second node of one CPU each, started once the AWS variables point at the
    S3 server (the nodes' tasks open the artifacts themselves); yields the head's address."""
    # a token in ~/.ray/auth_token (anyone's `ray get-auth-token --generate`) would switch
    # Ray's token auth on for the nodes, which the server does not present: as cluster.py does
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    with ray_node() as (head, _), ray_node(head=head):
        ray.init(address=head, log_to_driver=False)
        try:
            wait_for(lambda: ray.cluster_resources().get("CPU") == 2, timeout_s=90,
                     what="the second Ray node to join")
        finally:
            ray.shutdown()
        yield head


@pytest.fixture
def server(workspace: Workspace, ray_cluster: str, s3_url: str, postgres_url: str
           ) -> Iterator[tuple[str, str]]:
    """`trainforge server --backend ray` on the three, configured as the README says; yields
    its URL and the first line it printed about its jobs."""
    env = cluster_env(workspace, ray_cluster, s3_url, postgres_url)
    port = free_port()
    log = workspace.home.parent / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "trainforge", "server", "--port", str(port), "--backend",
             "ray"], env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(url, process, log), timeout_s=START_TIMEOUT_S,
                 what="the server to be ready")
        yield url, log.read_text()
    finally:
        process.terminate()  # Ctrl-C's path: running jobs go back to the queue
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cluster_env(workspace: Workspace, ray_cluster: str, s3_url: str, postgres_url: str
                ) -> dict[str, str]:
    """The variables a user sets to point trainforge (the server, the CLI) at the three."""
    source = Path(trainforge.__file__).parents[1]
    return dict(os.environ, TRAINFORGE_HOME=str(workspace.home),
                TRAINFORGE_DATABASE_URL=postgres_url, TRAINFORGE_ARTIFACTS=s3_url,
                TRAINFORGE_RAY_ADDRESS=ray_cluster,
                PYTHONPATH=os.pathsep.join(filter(None, [str(source),
                                                         os.environ.get("PYTHONPATH")])))


def _ready(url: str, process: subprocess.Popen[bytes], log: Path) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"the server exited: {log.read_text()[-3000:]}")
    try:
        return httpx.get(f"{url}/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def signed_in(server: tuple[str, str], workspace: Workspace) -> Iterator[httpx.Client]:
    """Signed in through the login form as the admin the first start created, with the
    session's CSRF token set, as a user of the web UI is."""
    url, _ = server
    secrets = (workspace.home / "secrets" / "first-admin.txt").read_text()
    username = re.search(r"^web UI login: (\S+)$", secrets, re.MULTILINE).group(1)
    password = re.search(r"^password: (\S+)$", secrets, re.MULTILINE).group(1)
    with httpx.Client(base_url=url, timeout=30) as client:
        sign_in(client, username=username, password=password)
        yield client


def bucket_keys(s3_url: str) -> list[str]:
    """Every key under the test's prefix, relative to it, read with boto3 as anyone would."""
    bucket, prefix = s3_url.removeprefix("s3://").split("/", 1)
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"{prefix}/")
    return sorted(item["Key"].removeprefix(f"{prefix}/")
                  for page in pages for item in page.get("Contents", []))


def batch_predict_on_ray(client: httpx.Client, dataset: str, env: dict[str, str],
                         s3_url: str) -> None:
    """Batch prediction on Ray Data (issue 15, item 4): a predict job with ``"backend":
    "ray"`` writes shards and a manifest into the bucket; `trainforge predict --backend ray`
    reads shards from the bucket and writes its own there, output shard i for input shard i."""
    job = finished(client, {"kind": "predict", "model": "credit:1", "dataset": dataset,
                            "backend": "ray"}, timeout_s=180)
    assert job["result"]["output"] == f"{s3_url}/jobs/{job['id']}/predictions"
    assert read_manifest(f"{job['result']['output']}/manifest.json")["rows_out"] == 1000
    rows = pd.read_csv(CREDIT).drop(columns=["class"])
    bucket, prefix = s3_url.removeprefix("s3://").split("/", 1)
    for name, part in (("b.parquet", rows.iloc[:400]), ("a.parquet", rows.iloc[400:])):
        boto3.client("s3").put_object(Bucket=bucket, Key=f"{prefix}/batch-in/{name}",
                                      Body=part.to_parquet(index=False))
    done = subprocess.run([sys.executable, "-m", "trainforge", "predict", "credit:1",
                           f"{s3_url}/batch-in/", "-o", f"{s3_url}/batch-out", "--backend",
                           "ray"], env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = read_manifest(f"{s3_url}/batch-out/manifest.json")
    assert [(s["name"], s["input"].rsplit("/", 1)[1], s["rows"]) for s in manifest["shards"]
            ] == [("part-00000.parquet", "a.parquet", 600), ("part-00001.parquet",
                                                             "b.parquet", 400)]


def read_manifest(url: str) -> dict[str, Any]:
    bucket, key = url.removeprefix("s3://").split("/", 1)
    manifest: dict[str, Any] = json.loads(
        boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    return manifest


def test_the_server_journey_runs_on_ray_with_seaweedfs_and_postgres(
        signed_in: httpx.Client, server: tuple[str, str], workspace: Workspace, s3_url: str,
        ray_cluster: str, postgres_url: str):
    client, (_, banner) = signed_in, server
    assert "jobs on the Ray cluster" in banner and "(2 CPUs, 0 GPUs)" in banner
    started = time.monotonic()
    dataset = upload_to_batch_output(client, job_timeout_s=180)
    print(f"journey on the cluster, upload to batch output: {time.monotonic() - started:.1f} s")
    batch_predict_on_ray(client, dataset, cluster_env(workspace, ray_cluster, s3_url,
                                                      postgres_url), s3_url)

    with workspace.engine.connect() as connection:  # the rows are Postgres's
        jobs = connection.execute(sa.text(
            "SELECT kind, status, worker FROM jobs ORDER BY created_at")).all()
        package = connection.execute(sa.text(
            "SELECT path FROM models WHERE name = 'credit' AND version = 1")).scalar_one()
    assert [(kind, status) for kind, status, _ in jobs] == [("train", "succeeded"),
                                                             ("predict", "succeeded"),
                                                             ("predict", "succeeded")]
    assert all("@" in worker for _, _, worker in jobs)  # each taken over by a Ray task
    keys = bucket_keys(s3_url)
    assert f"{package}/manifest.json" in keys
    assert any(key.startswith(f"{package}/") and key != f"{package}/manifest.json"
               for key in keys)
