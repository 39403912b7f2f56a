"""A deployment's monitoring through the platform: the REST route, the web page and the
Prometheus gauges, over predictions its servers logged."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from tests._paths import EXAMPLES
from tests.server._ui import log_in
from tests.server.conftest import bearer

from trainforge.monitoring.prediction_log import PredictionLog, new_request_id
from trainforge.store import access
from trainforge.workspace import Workspace

PASSWORD = "a long enough password"


@pytest.fixture
def logged(trained: Workspace, trained_client: TestClient,
           trained_tokens: dict[str, str]) -> TestClient:
    """``credit:1`` deployed as ``credit``, with 600 logged predictions whose durations are
    three times those it was trained on."""
    deployed = trained_client.post("/api/v1/deployments", headers=bearer(trained_tokens["editor"]),
                                   json={"model": "credit:1"})
    assert deployed.status_code == 201, deployed.text
    rows = pd.read_csv(EXAMPLES / "credit_g.csv").head(600)
    rows["duration"] = rows["duration"] * 3
    log = PredictionLog(trained.prediction_log)
    for start in range(0, len(rows), 100):
        part = rows.iloc[start:start + 100]
        log.record(deployment="credit", model="credit", version=1, request_id=new_request_id(),
                   inputs={c: part[c].tolist() for c in part.columns if c != "class"},
                   outputs={"prediction": part["class"].tolist()}, n_rows=len(part),
                   latency_s=0.001)
    log.flush()
    return trained_client


def test_the_monitoring_route_answers_the_drift_per_window_to_a_viewer(logged, trained_tokens):
    answer = logged.get("/api/v1/deployments/credit/monitoring?window=300",
                        headers=bearer(trained_tokens["viewer"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["n_rows"], len(body["windows"]), body["drifted_features"]) == (600, 2,
                                                                                ["duration"])


def test_the_monitoring_of_an_unknown_deployment_is_404(logged, trained_tokens):
    answer = logged.get("/api/v1/deployments/churn/monitoring",
                        headers=bearer(trained_tokens["viewer"]))
    assert answer.status_code == 404 and "churn" in answer.json()["detail"]


def test_a_window_that_is_not_one_is_422_naming_the_field_not_echoing_the_value(
        logged, trained_tokens):
    answer = logged.get("/api/v1/deployments/credit/monitoring?window=<b>soon",
                        headers=bearer(trained_tokens["viewer"]))
    assert answer.status_code == 422 and "window" in answer.json()["detail"]
    assert "soon" not in answer.text


def test_the_monitoring_route_needs_a_token(logged):
    assert logged.get("/api/v1/deployments/credit/monitoring").status_code == 401


def test_the_monitoring_page_shows_the_drifted_feature_and_its_charts(logged, trained):
    access.create_user(trained, username="ana", password=PASSWORD, role="viewer")
    log_in(logged, "ana", PASSWORD)
    page = logged.get("/deployments/credit/monitoring?window=300")
    assert page.status_code == 200
    assert "drifted: duration" in page.text and "data:image/png;base64," in page.text


def test_the_deployments_page_links_each_deployment_to_its_monitoring(logged, trained):
    access.create_user(trained, username="ana", password=PASSWORD, role="viewer")
    log_in(logged, "ana", PASSWORD)
    assert 'href="/deployments/credit/monitoring"' in logged.get("/deployments").text


def test_metrics_show_the_drift_gauges_after_a_refresh(logged, trained_tokens):
    logged.app.state.drift_gauges.refresh()
    text = logged.get("/metrics", headers=bearer(trained_tokens["viewer"])).text
    assert 'trainforge_drifted_features{deployment="credit"} 1' in text
    assert 'trainforge_feature_drift{deployment="credit",feature="duration",test="psi"}' in text


def test_a_scrape_computes_nothing_it_shows_the_last_refresh(logged, trained_tokens):
    text = logged.get("/metrics", headers=bearer(trained_tokens["viewer"])).text
    assert 'deployment="credit"' not in text


def test_the_server_refreshes_the_gauges_in_a_background_thread_while_it_runs(logged,
                                                                             trained_tokens):
    with logged:  # the lifespan: the thread's first refresh comes at once
        for _ in range(100):
            if logged.app.state.drift_gauges.lines():
                break
            time.sleep(0.1)
        text = logged.get("/metrics", headers=bearer(trained_tokens["viewer"])).text
    assert 'trainforge_drifted_features{deployment="credit"} 1' in text
