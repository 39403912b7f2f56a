"""Runs: what started, what it logged along the way, how it ended and what it used."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trainforge.errors import RunNotFound
from trainforge.store import finish_run, get_run, list_runs, log_metric, start_run
from trainforge.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


def test_a_started_run_is_running_with_its_config(ws: Workspace):
    run_id = start_run(ws, kind="train", config={"target": "class", "seed": 0}, dataset_id=None)
    run = get_run(ws, run_id)
    assert len(run_id) == 32 and int(run_id, 16) >= 0
    assert (run["kind"], run["status"], run["config"]) == (
        "train", "running", {"target": "class", "seed": 0})
    assert run["started_at"].tzinfo is not None


def test_logged_metrics_come_back_as_series_in_step_order(ws: Workspace):
    run_id = start_run(ws, kind="train", config={}, dataset_id=None)
    for step, loss in [(2, 0.3), (0, 0.9), (1, 0.5)]:
        log_metric(ws, run_id, "loss", loss, step=step)
    log_metric(ws, run_id, "roc_auc", 0.8, step=0)
    series = get_run(ws, run_id)["series"]
    assert [(p["step"], p["value"]) for p in series["loss"]] == [(0, 0.9), (1, 0.5), (2, 0.3)]
    assert [p["value"] for p in series["roc_auc"]] == [0.8]


def test_a_finished_run_records_its_outcome_resources_and_model(ws: Workspace):
    run_id = start_run(ws, kind="train", config={}, dataset_id=None)
    finish_run(ws, run_id, status="succeeded", metrics={"roc_auc": np.float64(0.91)},
               peak_memory_mb=512.5, cpu_s=12.0, model=("credit", 3))
    run = get_run(ws, run_id)
    assert (run["status"], run["metrics"], run["peak_memory_mb"], run["cpu_s"]) == (
        "succeeded", {"roc_auc": 0.91}, 512.5, 12.0)
    assert (run["model_name"], run["model_version"]) == ("credit", 3)
    assert run["duration_s"] >= 0 and run["finished_at"] >= run["started_at"]


def test_a_failed_run_keeps_its_error(ws: Workspace):
    run_id = start_run(ws, kind="train", config={}, dataset_id=None)
    finish_run(ws, run_id, status="failed", metrics={}, peak_memory_mb=None, cpu_s=None,
               error="the time budget ran out")
    run = get_run(ws, run_id)
    assert (run["status"], run["error"], run["model_name"]) == (
        "failed", "the time budget ran out", None)


def test_a_run_cannot_finish_as_running(ws: Workspace):
    run_id = start_run(ws, kind="train", config={}, dataset_id=None)
    with pytest.raises(ValueError, match="'succeeded' or 'failed'"):
        finish_run(ws, run_id, status="running", metrics={},  # type: ignore[arg-type]
                   peak_memory_mb=None, cpu_s=None)


def test_an_unknown_run_is_reported_with_its_id(ws: Workspace):
    with pytest.raises(RunNotFound, match="no run 'feed' in the store"):
        get_run(ws, "feed")


def test_logging_to_an_unknown_run_is_refused(ws: Workspace):
    with pytest.raises(RunNotFound):
        log_metric(ws, "feed", "loss", 1.0, step=0)


def test_finishing_an_unknown_run_is_refused(ws: Workspace):
    with pytest.raises(RunNotFound):
        finish_run(ws, "feed", status="failed", metrics={}, peak_memory_mb=None, cpu_s=None)


def test_the_run_list_shows_the_newest_first_up_to_the_limit(ws: Workspace):
    ids = [start_run(ws, kind="train", config={"n": n}, dataset_id=None) for n in range(4)]
    listed = list_runs(ws, limit=3)
    assert [run["id"] for run in listed] == ids[::-1][:3]
    assert "series" not in listed[0]


def test_a_config_that_is_not_json_says_which_field(ws: Workspace):
    with pytest.raises(TypeError, match=r"config\['callback'\] is a function"):
        start_run(ws, kind="train", config={"callback": lambda: None}, dataset_id=None)
