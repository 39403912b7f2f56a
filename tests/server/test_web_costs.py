"""The web UI shows what jobs, runs and deployments used: CPU-seconds, peak memory, and cost
when the server has a rate."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.server._ui import log_in

from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app
from trainforge.serving.metrics import ServingMetrics
from trainforge.serving.usage import UsageFlusher
from trainforge.store import access, finish_run, start_run
from trainforge.store import jobs as job_store
from trainforge.store.resources import Used
from trainforge.workspace import Workspace

PASSWORD = "correct horse battery"


def signed_in(workspace: Workspace, config: ServerConfig) -> TestClient:
    client = TestClient(create_server_app(workspace, config))
    access.create_user(workspace, username="ana", password=PASSWORD, role="viewer")
    assert log_in(client, "ana", PASSWORD).status_code == 303
    return client


@pytest.fixture
def used(workspace: Workspace) -> Workspace:
    """A job and a run that used 1,800 CPU-seconds each, and a deployment served today."""
    job_id = job_store.submit_job(workspace, kind="train", config={})
    job_store.claim_job(workspace, worker="w")
    job_store.finish_job(workspace, job_id, status="succeeded", worker="w",
                         used=Used(cpu_s=1800.0, peak_memory_mb=512.0))
    run_id = start_run(workspace, kind="train", config={}, dataset_id=None)
    finish_run(workspace, run_id, status="succeeded", metrics={}, peak_memory_mb=512.0,
               cpu_s=1800.0)
    metrics = ServingMetrics()
    metrics.record("credit:1", "/v1/models/{name}/predict", 200, 0.01, n_predictions=4,
                   cpu_s=1800.0)
    UsageFlusher(workspace, metrics, served=lambda: {"credit": "credit:1"}).flush()
    return workspace


@pytest.mark.parametrize("page", ["/jobs", "/runs"])
def test_the_jobs_and_runs_pages_show_cpu_seconds_and_peak_memory_and_no_cost_without_a_rate(
        used, page):
    html = signed_in(used, ServerConfig()).get(page).text
    assert ">CPU-s</th>" in html and "<th>peak MB</th>" in html and "cost (" not in html
    assert '<td class="num">1,800</td>' in html and '<td class="num">512</td>' in html


@pytest.mark.parametrize("page", ["/jobs", "/runs"])
def test_the_jobs_and_runs_pages_show_the_cost_at_the_servers_rate(used, page):
    html = signed_in(used, ServerConfig(cost_per_cpu_hour=0.1, cost_currency="EUR")).get(page).text
    assert "<th>cost (EUR)</th>" in html and '<td class="num">0.05</td>' in html


def test_the_deployments_page_loads_its_usage_section(used):
    client = signed_in(used, ServerConfig(cost_per_cpu_hour=0.1))
    assert 'hx-get="/deployments/usage"' in client.get("/deployments").text
    section = client.get("/deployments/usage").text
    assert "<td>credit</td>" in section and "<th>cost (USD)</th>" in section
    assert '<td class="num">4</td>' in section and '<td class="num">0.05</td>' in section


def test_a_job_page_shows_what_the_job_used(used):
    [job] = job_store.list_jobs(used)
    html = signed_in(used, ServerConfig(cost_per_cpu_hour=0.1)).get(f"/jobs/{job['id']}").text
    assert "CPU 30.0 min · peak memory 512 MB · cost 0.05 USD" in html
