"""What serving and jobs cost over the API: per day, summed over the server processes, with
money only when the server has a rate."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.server.conftest import bearer

from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app
from trainforge.serving.metrics import ServingMetrics
from trainforge.serving.usage import UsageFlusher, utc_day
from trainforge.store import jobs as job_store
from trainforge.store.resources import Used
from trainforge.workspace import Workspace

PREDICT = "/v1/models/{name}/predict"


def flushed(workspace: Workspace, *, process: str, requests: int, cpu_s: float) -> None:
    """One server process's counts for deployment credit (credit:1), written for today."""
    metrics = ServingMetrics()
    for _ in range(requests):
        metrics.record("credit:1", PREDICT, 200, 0.001, n_predictions=1,
                       cpu_s=cpu_s / requests)
    UsageFlusher(workspace, metrics, served=lambda: {"credit": "credit:1"},
                 process=process).flush()


def usage_of(workspace: Workspace, path: str, config: ServerConfig | None = None) -> dict:
    from trainforge.store import access

    token, _ = access.create_token(workspace, name="viewer", role="viewer")
    client = TestClient(create_server_app(workspace, config or ServerConfig()))
    answer = client.get(path, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_two_server_processes_usage_sums_in_the_deployments_usage(workspace):
    flushed(workspace, process="host:1", requests=3, cpu_s=0.6)
    flushed(workspace, process="host:2", requests=2, cpu_s=0.4)
    usage = usage_of(workspace, "/api/v1/deployments/credit/usage?days=7")
    [today] = usage["days"]
    assert today["day"] == utc_day() and today["processes"] == 2
    assert (today["requests"], today["predictions"]) == (5, 5)
    assert today["cpu_s"] == pytest.approx(1.0)
    assert usage["total"]["requests"] == 5


def test_usage_shows_no_cost_without_a_rate(workspace):
    flushed(workspace, process="host:1", requests=1, cpu_s=36.0)
    usage = usage_of(workspace, "/api/v1/deployments/credit/usage")
    assert usage["currency"] is None and usage["days"][0]["cost"] is None
    assert usage["total"]["cost"] is None


def test_usage_costs_its_cpu_hours_at_the_servers_rate(workspace):
    flushed(workspace, process="host:1", requests=1, cpu_s=36.0)
    usage = usage_of(workspace, "/api/v1/deployments/credit/usage",
                     ServerConfig(cost_per_cpu_hour=2.0))
    assert usage["currency"] == "USD"
    assert usage["days"][0]["cost"] == pytest.approx(36.0 / 3600 * 2.0)


def test_the_days_usage_adds_serving_and_jobs(workspace):
    flushed(workspace, process="host:1", requests=2, cpu_s=4.0)
    job_id = job_store.submit_job(workspace, kind="predict", config={})
    job_store.claim_job(workspace, worker="w")
    job_store.finish_job(workspace, job_id, status="succeeded", worker="w",
                         used=Used(cpu_s=6.0, peak_memory_mb=100.0))
    usage = usage_of(workspace, "/api/v1/usage?days=1", ServerConfig(cost_per_cpu_hour=3.6))
    [today] = usage["days"]
    assert (today["serving_cpu_s"], today["jobs_cpu_s"]) == pytest.approx((4.0, 6.0))
    assert today["cost"] == pytest.approx(10.0 / 3600 * 3.6)
    assert [(j["jobs"], j["cpu_s"]) for j in usage["jobs"]] == [(1, 6.0)]
    assert [d["deployment"] for d in usage["deployments"]] == ["credit"]


def test_the_usage_of_a_name_never_deployed_is_a_404_saying_what_is(workspace, tokens):
    client = TestClient(create_server_app(workspace, ServerConfig()))
    answer = client.get("/api/v1/deployments/nothing/usage", headers=bearer(tokens["viewer"]))
    assert answer.status_code == 404
    assert "GET /api/v1/deployments lists them" in answer.json()["detail"]


def test_a_prediction_served_by_the_platform_is_in_its_usage_once_the_server_stops(
        trained, trained_tokens):
    import csv

    from tests._paths import EXAMPLES

    with open(EXAMPLES / "credit_g.csv", newline="") as handle:
        record = next(csv.DictReader(handle))
    record.pop("class")
    record = {k: float(v) if v.replace(".", "", 1).isdigit() else v for k, v in record.items()}
    with TestClient(create_server_app(trained, ServerConfig())) as client:  # runs the lifespan
        assert client.post("/api/v1/deployments", headers=bearer(trained_tokens["editor"]),
                           json={"model": "credit:1"}).status_code == 201
        assert client.post("/v1/models/credit/predict", headers=bearer(trained_tokens["viewer"]),
                           json={"records": [record, record]}).status_code == 200
    usage = usage_of(trained, "/api/v1/deployments/credit/usage")
    assert [(d["requests"], d["predictions"]) for d in usage["days"]] == [(1, 2)]
    assert usage["days"][0]["peak_memory_mb"] > 10
