"""The platform journey's steps, shared by the journeys on PostgreSQL and on the cluster:
sign in through the web UI's form, then upload, train (a job), deploy, predict and batch
predict (a job), each checked as a user would see it."""

from __future__ import annotations

import io
import re

import httpx
import pandas as pd
from tests._paths import EXAMPLES
from tests.server._jobs import finished
from tests.server._ui import log_in
from tests.server.conftest import credit_records

CREDIT = EXAMPLES / "credit_g.csv"


def sign_in(client: httpx.Client, *, username: str, password: str) -> None:
    """Sign ``client`` in through the login form and set its session's CSRF token, as the web
    UI does."""
    log_in(client, username, password)
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/").text).group(1)
    client.headers["X-CSRF-Token"] = csrf


def upload_to_batch_output(client: httpx.Client, *, job_timeout_s: float) -> str:
    """Upload credit_g.csv, train ``credit`` on it (a job), deploy version 1, predict three
    rows, and batch predict the whole table (a job) and read its output back; returns the
    uploaded dataset's id."""
    with CREDIT.open("rb") as handle:
        dataset = client.post("/api/v1/datasets", files={"file": (CREDIT.name, handle)}
                              ).json()["id"]
    trained = finished(client, {"kind": "train", "dataset": dataset, "target": "class",
                                "algorithm": "linear", "trials": 1, "name": "credit"},
                       timeout_s=job_timeout_s)
    assert trained["result"]["model"] == "credit:1"
    assert client.post("/api/v1/deployments", json={"model": "credit:1"}).status_code == 201
    answer = client.post("/v1/models/credit/predict", json={"records": credit_records(3)})
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == 3
    batch = finished(client, {"kind": "predict", "model": "credit:1", "dataset": dataset},
                     timeout_s=job_timeout_s)
    output = client.get(f"/api/v1/jobs/{batch['id']}/output")
    assert len(pd.read_csv(io.BytesIO(output.content))) == 1000
    return str(dataset)
