"""Runs over HTTP: newest first a page at a time, one run, its series, runs side by side."""

from __future__ import annotations

import pytest
from tests.server.conftest import bearer

from trainforge.store import get_run, list_runs


@pytest.fixture
def viewer(trained_tokens):
    return bearer(trained_tokens["viewer"])


def test_runs_come_newest_first_a_page_at_a_time(trained_client, trained, viewer):
    newest_first = [r["id"] for r in list_runs(trained)]
    first = trained_client.get("/api/v1/runs?limit=1", headers=viewer).json()
    second = trained_client.get(f"/api/v1/runs?limit=1&offset={first['next_offset']}",
                                headers=viewer).json()
    assert [first["runs"][0]["id"], second["runs"][0]["id"]] == newest_first
    assert second["next_offset"] is None


def test_a_run_is_shown_with_its_config_status_metrics_and_model(trained_client, trained, viewer):
    run_id = list_runs(trained)[-1]["id"]
    shown = trained_client.get(f"/api/v1/runs/{run_id[:8]}", headers=viewer).json()
    assert (shown["id"], shown["status"], shown["model_name"], shown["model_version"]) == (
        run_id, "succeeded", "credit", 1)
    assert shown["config"]["target"] == "class" and shown["metrics"]


def test_a_runs_metric_series_are_every_point_in_step_order(trained_client, trained, viewer):
    run_id = list_runs(trained)[0]["id"]
    series = trained_client.get(f"/api/v1/runs/{run_id}/metrics", headers=viewer).json()
    stored = get_run(trained, run_id)["series"]
    assert series.keys() == stored.keys() and series
    key = next(iter(stored))
    assert [(p["step"], p["value"]) for p in series[key]] == [
        (p["step"], p["value"]) for p in stored[key]]


def test_compared_runs_show_the_settings_that_differ_and_their_metrics(trained_client, trained,
                                                                       viewer):
    old, new = reversed([r["id"] for r in list_runs(trained)])
    compared = trained_client.get(f"/api/v1/runs/compare?ids={old},{new}", headers=viewer).json()
    assert compared["runs"] == [old, new] and compared["models"] == ["credit:1", "credit:2"]
    assert compared["config_differences"]["seed"] == [0, 1]
    assert compared["config_shared"]["target"] == "class"
    assert all(len(values) == 2 for values in compared["metrics"].values())


def test_comparing_one_run_says_how_many_it_takes(trained_client, trained, viewer):
    answer = trained_client.get(f"/api/v1/runs/compare?ids={list_runs(trained)[0]['id']}",
                                headers=viewer)
    assert answer.status_code == 422 and "2 to 10 run ids" in answer.json()["detail"]


def test_an_unknown_run_is_a_404(trained_client, viewer):
    answer = trained_client.get("/api/v1/runs/ffffffff", headers=viewer)
    assert answer.status_code == 404 and "trainforge runs list" in answer.json()["detail"]


def test_reading_runs_needs_a_token(trained_client):
    assert trained_client.get("/api/v1/runs").status_code == 401
