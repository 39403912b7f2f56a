"""Each job kind a CLI verb starts, through the HTTP API of a real server (uvicorn on
127.0.0.1, its workers as processes): queued, run to its end, its result and lineage shown."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests._paths import EXAMPLES
from tests.server._jobs import (
    HEARTBEAT_S,
    STALE_AFTER_S,
    finished,
    running_app,
    upload,
)

from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app
from trainforge.server.supervisor import Supervisor
from trainforge.store import access
from trainforge.workspace import Workspace

pytestmark = pytest.mark.slow  # worker processes, real training

WINE = EXAMPLES / "wine.csv"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client,
                                                                        Workspace]]:
    workspace = Workspace(tmp_path_factory.mktemp("kinds") / "home")
    token, _ = access.create_token(workspace, name="editor", role="editor")
    supervisor = Supervisor(workspace, workers=1, heartbeat_s=HEARTBEAT_S,
                            stale_after_s=STALE_AFTER_S)
    supervisor.start()
    try:
        with running_app(create_server_app(workspace, ServerConfig())) as url, \
                httpx.Client(base_url=url, timeout=30,
                             headers={"Authorization": f"Bearer {token}"}) as client:
            yield client, workspace
    finally:
        supervisor.stop(timeout_s=15)


def uploaded(client: httpx.Client, path: Any) -> str:
    with path.open("rb") as handle:
        return str(client.post("/api/v1/datasets", files={"file": (path.name, handle)}
                               ).json()["id"])


def test_a_cluster_job_registers_the_segments_model_with_its_report(server):
    client, _ = server
    done = finished(client, {"kind": "cluster", "dataset": uploaded(client, WINE),
                             "exclude": ["cultivar"], "method": "kmeans", "k": 3,
                             "name": "wine-segments", "time_budget": 10})
    result = done["result"]
    assert result["model"] == "wine-segments:1" and result["n_segments"] == 3
    assert len(result["segments"]) == 3 and done["run_id"] == result["run_id"]
    assert client.get(result["report"]).status_code == 200


def test_an_anomalies_job_registers_the_detector_and_names_the_top_rows(server):
    client, _ = server
    done = finished(client, {"kind": "anomalies", "dataset": uploaded(client, WINE),
                             "exclude": ["cultivar"], "method": "isolation_forest",
                             "contamination": 0.05, "top": 3, "name": "wine-anomalies"})
    result = done["result"]
    assert result["model"] == "wine-anomalies:1" and len(result["top"]) == 3
    assert 0 < result["n_anomalies"] < result["n_rows"] == 178


def test_an_rl_train_job_registers_a_policy_that_an_rl_eval_job_replays(server):
    client, _ = server
    trained = finished(client, {"kind": "rl_train", "env": "CartPole-v1", "algo": "PPO",
                                "timesteps": 2048, "episodes": 2, "name": "pole"},
                       timeout_s=240)
    assert trained["result"]["model"] == "pole:1" and trained["run_id"]
    assert trained["result"]["metrics"]["mean_return"] > 0
    replayed = finished(client, {"kind": "rl_eval", "model": "pole:1", "episodes": 3})
    assert replayed["result"]["env"] == "CartPole-v1"
    assert len(replayed["result"]["returns"]) == 3


@pytest.mark.parametrize("body", [
    {"kind": "train", "target": "cultivar", "algorithm": "linear", "trials": 1},
    {"kind": "cluster", "exclude": ["cultivar"], "method": "kmeans", "k": 2, "time_budget": 5},
    {"kind": "anomalies", "exclude": ["cultivar"], "method": "lof"},
])
def test_a_job_links_an_unlinked_upload_to_the_dataset_version_its_run_read(server, body):
    client, workspace = server
    upload_id = upload(workspace, WINE)  # recorded without a dataset version, as before #11
    assert client.get(f"/api/v1/datasets/{upload_id}").json()["dataset_id"] is None
    done = finished(client, {**body, "dataset": upload_id})
    run = client.get(f"/api/v1/runs/{done['run_id']}").json()
    shown = client.get(f"/api/v1/datasets/{upload_id}").json()
    assert shown["dataset_id"] == run["dataset_id"] is not None
    assert shown["fingerprint"] and shown["n_rows"] == 178
