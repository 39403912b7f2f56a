"""`trainforge server --backend ray`: jobs run as tasks on a real Ray cluster the tests start
(a head of one CPU on 127.0.0.1), with the store as the one truth about them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
from tests._paths import EXAMPLES
from tests.server._jobs import (
    HEARTBEAT_S,
    STALE_AFTER_S,
    free_port,
    running_app,
    upload,
    wait_for,
)
from tests.server._ray import hold_a_cpu, kill_node, ray_node
from tests.server.conftest import bearer
from tests.server.test_worker_resumes_network import epochs_logged, upload_digits

from trainforge.config import ServerConfig
from trainforge.errors import RayNeedsSharedStore, RayUnreachable
from trainforge.server.app import create_server_app
from trainforge.server.ray_backend import RayDispatcher, connect
from trainforge.store import access
from trainforge.store.jobs import read_log
from trainforge.store.runs import list_runs
from trainforge.workspace import Workspace


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch, ray_node(num_cpus=1) as (address, _):
        patch.setenv("RAY_AUTH_MODE", "disabled")  # the driver, as the nodes (tests/server/_ray)
        yield address


@pytest.fixture(scope="module")
def server(cluster: str, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[httpx.Client, Workspace]]:
    """A server on the ray backend over a fresh workspace, and an editor's client of it."""
    workspace = Workspace(tmp_path_factory.mktemp("ray") / "home")
    token, _ = access.create_token(workspace, name="editor", role="editor")
    connect(cluster, workspace=workspace, timeout_s=30)
    dispatcher = RayDispatcher(workspace, heartbeat_s=HEARTBEAT_S, stale_after_s=STALE_AFTER_S)
    dispatcher.start()
    app = create_server_app(workspace, ServerConfig(backend="ray", ray_address=cluster),
                            supervisor=dispatcher, capacity=dispatcher.totals)
    try:
        with running_app(app) as url, httpx.Client(
                base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
            yield client, workspace
    finally:
        dispatcher.stop(timeout_s=15)


def job_ended(client: httpx.Client, job_id: str) -> dict[str, Any] | None:
    job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}").json()
    return job if job["status"] in ("succeeded", "failed", "cancelled") else None


@pytest.mark.cluster  # a real Ray cluster: `make test-cluster`
@pytest.mark.slow  # a Ray head takes ~15 s to start here
def test_a_train_job_on_the_ray_backend_succeeds_with_its_run_and_model_registered(server):
    client, workspace = server
    body = {"kind": "train", "dataset": upload(workspace, EXAMPLES / "credit_g.csv"),
            "target": "class", "algorithm": "linear", "trials": 1, "name": "credit"}
    answer = client.post("/api/v1/jobs", json=body)
    assert answer.status_code == 201, answer.text
    job_id = answer.json()["id"]
    done = wait_for(lambda: job_ended(client, job_id), timeout_s=120, what="the job to end")
    assert done["status"] == "succeeded", done["error"]
    assert "@" in done["worker"]  # run by a Ray task that took it over from the dispatcher
    assert [run["id"] for run in list_runs(workspace)] == [done["result"]["run_id"]]
    assert workspace.registry.resolve("credit") == ("credit", 1)
    assert done["config"]["resources"] == {"cpus": 1.0, "gpus": 0.0, "memory_mb": None}


@pytest.mark.cluster  # a real Ray cluster: `make test-cluster`
@pytest.mark.slow
def test_a_job_asking_for_more_cpus_than_the_cluster_has_is_refused_naming_them(server):
    client, workspace = server
    queued = len(client.get("/api/v1/jobs").json())
    body = {"kind": "train", "dataset": upload(workspace, EXAMPLES / "credit_g.csv"),
            "target": "class", "trials": 1, "cpus": 64}
    answer = client.post("/api/v1/jobs", json=body)
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("cpus: the job asks for 64 CPUs but the Ray "
                                              "cluster has 1 in all")
    assert len(client.get("/api/v1/jobs").json()) == queued


@pytest.mark.slow  # a fresh interpreter
def test_a_ray_address_where_nothing_answers_fails_the_server_start_saying_so(tmp_path):
    ended = subprocess.run(
        [sys.executable, "-m", "trainforge", "server", "--port", str(free_port()),
         "--backend", "ray", "--ray-address", f"127.0.0.1:{free_port()}"],
        env=dict(os.environ, TRAINFORGE_HOME=str(tmp_path / "home")), capture_output=True,
        text=True, timeout=60, check=False)
    assert ended.returncode == RayUnreachable.exit_code
    assert "nothing answers on 127.0.0.1" in ended.stderr
    assert not (tmp_path / "home" / "secrets").exists()  # nothing was set up for a server


def test_a_ray_head_that_never_answers_is_given_up_on_after_the_timeout(tmp_path):
    # a non-routable address: no refusal comes back, only silence (a Postgres store, so the
    # address may be another machine's; nothing opens it)
    workspace = Workspace(tmp_path / "home", database_url="postgresql+psycopg://db/trainforge")
    started = time.monotonic()
    with pytest.raises(RayUnreachable, match="10.255.255.1:6379"):
        connect("10.255.255.1:6379", workspace=workspace, timeout_s=1)
    assert time.monotonic() - started < 5


def test_ray_on_another_machine_with_a_sqlite_store_is_refused_pointing_to_postgres(tmp_path):
    with pytest.raises(RayNeedsSharedStore, match="TRAINFORGE_DATABASE_URL"):
        connect("ray://203.0.113.7:10001", workspace=Workspace(tmp_path / "home"))


@pytest.mark.slow  # a fresh interpreter
def test_the_local_backend_never_imports_ray(tmp_path):
    program = ("import sys\n"
               "from trainforge.cli import server_cmd\n"
               "from trainforge.config import ServerConfig\n"
               "from trainforge.server.app import create_server_app\n"
               "from trainforge.server.supervisor import Supervisor\n"
               "from trainforge.server.workers import Worker\n"
               "from trainforge.workspace import Workspace\n"
               f"create_server_app(Workspace({str(tmp_path)!r}), ServerConfig())\n"
               "print(sorted(m for m in sys.modules if m.split('.')[0] == 'ray'))\n")
    shown = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                           timeout=60, check=True)
    assert shown.stdout.strip() == "[]"


@pytest.mark.cluster  # a real Ray cluster: `make test-cluster`
@pytest.mark.slow  # a second node, a network trained, its node killed, the job resumed
def test_a_network_job_whose_ray_node_dies_resumes_from_its_last_checkpoint(cluster, server):
    pytest.importorskip("torch")
    client, workspace = server
    with ray_node(head=cluster) as (_, second):
        wait_for(lambda: ray.cluster_resources().get("CPU") == 2, timeout_s=90,
                 what="the second node to join")
        with holding_the_heads_cpu():  # so the job can only start on the second node
            body = {"kind": "train", "dataset": upload_digits(workspace), "algorithm": "cnn",
                    "trials": 1, "seed": 3, "name": "digits"}
            job_id = client.post("/api/v1/jobs", json=body).json()["id"]
            wait_for(lambda: len(epochs_logged(workspace, job_id)) >= 3, timeout_s=120,
                     what="three epochs of the network", every_s=0.05)
            kill_node(second)
            before = epochs_logged(workspace, job_id)
        done = wait_for(lambda: job_ended(client, job_id), timeout_s=120,
                        what="the job to end on the head")
    assert done["status"] == "succeeded", done["error"]
    assert done["attempts"] == 2 and done["run_id"] == done["result"]["run_id"]
    assert [run["model_name"] for run in list_runs(workspace)].count("digits") == 1
    texts = [line["text"] for line in read_log(workspace, job_id)]
    assert any("stopped sending heartbeats; requeued" in text for text in texts)
    after = epochs_logged(workspace, job_id)[len(before):]
    # the retry's first epoch is the one after the last checkpoint, not epoch 1 again
    assert after and 1 < after[0] <= before[-1] + 2


@contextmanager
def holding_the_heads_cpu() -> Iterator[None]:
    head = next(node["NodeID"] for node in ray.nodes()
                if node["Alive"] and "node:__internal_head__" in node["Resources"])
    hog = ray.remote(num_cpus=1)(hold_a_cpu).options(
        scheduling_strategy=NodeAffinitySchedulingStrategy(head, soft=False)).remote()
    wait_for(lambda: ray.available_resources().get("CPU", 0) <= 1, timeout_s=60,
             what="the head's CPU to be taken")
    try:
        yield
    finally:
        ray.cancel(hog, force=True)


def test_a_job_asking_for_no_cpus_is_refused_naming_the_field(client, workspace, tokens):
    body = {"kind": "train", "dataset": upload(workspace, EXAMPLES / "credit_g.csv"),
            "target": "class", "cpus": 0}
    answer = client.post("/api/v1/jobs", json=body, headers=bearer(tokens["editor"]))
    assert answer.status_code == 422 and "greater than 0" in answer.text and "cpus" in answer.text


def test_the_local_backend_queues_a_job_whatever_resources_it_declares(client, workspace,
                                                                        tokens):
    body = {"kind": "train", "dataset": upload(workspace, EXAMPLES / "credit_g.csv"),
            "target": "class", "cpus": 64, "gpus": 2, "memory_mb": 4096}
    answer = client.post("/api/v1/jobs", json=body, headers=bearer(tokens["editor"]))
    assert answer.status_code == 201
    assert answer.json()["config"]["resources"] == {"cpus": 64.0, "gpus": 2.0,
                                                    "memory_mb": 4096}
