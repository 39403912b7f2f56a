"""`trainforge feedback` and `trainforge.feedback`: labels from a file or a DataFrame, matched
by request id or by an input the deployment logs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import trainforge as tf
from trainforge.monitoring.prediction_log import PredictionLog, new_request_id
from trainforge.store.deployments import save_deployment
from trainforge.store.feedback import list_labels
from trainforge.workspace import Workspace


@pytest.fixture
def ws(wine_home: Path, tmp_path: Path) -> Workspace:
    """A copy of tests/conftest.py's ``wine_home``, ``wine`` 1 deployed."""
    home = tmp_path / "home"
    shutil.copytree(wine_home, home)
    workspace = Workspace(home)
    save_deployment(workspace, name="wine", model_name="wine", model_version=1,
                    requested="wine", deployed_by="ann")
    return workspace


def _log(ws: Workspace, orders: list[str]) -> str:
    """One logged request of len(orders) rows, each with the user's own ``order`` id."""
    request_id = new_request_id()
    log = PredictionLog(ws.prediction_log)
    log.record(deployment="wine", model="wine", version=1, request_id=request_id,
               inputs={"order": orders, "alcohol": [13.0] * len(orders)},
               outputs={"prediction": ["class_1"] * len(orders)}, n_rows=len(orders),
               latency_s=0.001)
    log.flush()
    return request_id


def test_the_cli_matches_labels_by_a_logged_input_column(ws: Workspace, tmp_path: Path, cli):
    _log(ws, ["A-1", "A-2", "A-2"])
    labels = tmp_path / "labels.csv"
    labels.write_text("order,truth\nA-1,class_2\nA-2,class_1\nA-9,class_1\n")
    done = cli("feedback", "wine", str(labels), "--id-column", "order", "--label-column",
               "truth", home=ws.home)
    assert done.returncode == 0, done.stderr
    assert "1 recorded" in done.stdout and "1 unknown_request" in done.stdout
    assert "row 1: ambiguous" in done.stdout
    assert [(r["row"], r["label"]) for r in list_labels(ws, "wine")] == [(0, "class_2")]


def test_the_cli_refuses_a_file_of_more_than_ten_thousand_labels(ws: Workspace,
                                                                tmp_path: Path, cli):
    labels = tmp_path / "labels.csv"
    labels.write_text("request_id,label\n" + "r,class_1\n" * 10_001)
    done = cli("feedback", "wine", str(labels), home=ws.home)
    assert done.returncode != 0 and "at most 10,000" in done.stderr


def test_the_sdk_records_labels_from_a_dataframe_of_request_ids(ws: Workspace):
    request_id = _log(ws, ["A-1", "A-2"])
    frame = pd.DataFrame({"request_id": [request_id, request_id], "row": [0, 1],
                          "label": ["class_3", "not-a-cultivar"]})
    outcome = tf.feedback("wine", frame, workspace=ws)
    assert outcome.counts["recorded"] == 1 and outcome.counts["wrong_type"] == 1
    assert [r["label"] for r in list_labels(ws, "wine")] == ["class_3"]
