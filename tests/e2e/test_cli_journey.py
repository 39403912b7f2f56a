"""The main journey through the real `trainforge` command: train, inspect, predict, alias."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from tests._paths import EXAMPLES
from tests.e2e._cli import trainforge

pytestmark = pytest.mark.slow  # whole journeys: each test runs the CLI in a new process

CREDIT = EXAMPLES / "credit_g.csv"
CONCRETE = EXAMPLES / "concrete.csv"



@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    home = tmp_path_factory.mktemp("journey")
    done = trainforge("train", str(CREDIT), "--target", "class", "--name", "credit",
                      "--trials", "4", "--seed", "0", home=home)
    return home, done


def test_train_prints_the_task_leaderboard_metrics_and_where_the_report_is(trained):
    _, done = trained
    assert done.returncode == 0, done.stderr
    assert "binary classification of 'class'" in done.stdout
    assert "Leaderboard" in done.stdout
    assert "roc_auc" in done.stdout
    assert "Registered credit:1" in done.stdout
    assert "report.html" in done.stdout


def test_the_report_is_a_self_contained_html_file(trained):
    home, _ = trained
    reports = list(home.rglob("report.html"))
    html = reports[0].read_text()
    assert len(reports) == 1 and "<img" in html and "http://" not in html.split("<body", 1)[1]


def test_predict_writes_one_row_per_input_row_with_a_probability_per_class(trained, tmp_path):
    home, _ = trained
    rows = pd.read_csv(CREDIT).drop(columns=["class"]).head(37)
    rows.to_csv(tmp_path / "new.csv", index=False)
    done = trainforge("predict", "credit", str(tmp_path / "new.csv"), "-o",
                      str(tmp_path / "out.csv"), home=home)
    out = pd.read_csv(tmp_path / "out.csv")
    assert done.returncode == 0, done.stderr
    assert len(out) == 37 and {"prediction", "good", "bad"} <= set(out.columns)


def test_models_show_json_gives_the_manifest_with_metrics_and_lineage(trained):
    home, _ = trained
    done = trainforge("models", "show", "credit:1", "--json", home=home)
    manifest = json.loads(done.stdout)
    assert manifest["task"]["target"] == "class"
    assert 0.5 < manifest["metrics"]["test"]["roc_auc"] <= 1.0
    assert manifest["lineage"]["dataset_fingerprint"]


def test_an_alias_resolves_to_its_version(trained, tmp_path):
    home, _ = trained
    assert trainforge("models", "alias", "credit", "1", "production", home=home).returncode == 0
    done = trainforge("models", "show", "credit@production", "--json", home=home)
    assert json.loads(done.stdout)["version"] == 1


def test_the_time_budget_covers_the_whole_command(tmp_path):
    started = time.monotonic()
    done = trainforge("train", str(CONCRETE), "--target", "compressive_strength",
                      "--time-budget", "20", home=tmp_path)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert elapsed <= 20 * 1.10


def test_help_does_not_import_the_heavy_libraries():
    code = ("import sys, trainforge.cli.app; heavy = {'pandas', 'sklearn', 'lightgbm', "
            "'sqlalchemy', 'matplotlib', 'fastapi'} & set(sys.modules); print(sorted(heavy))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_predicting_a_file_with_a_header_and_no_rows_writes_an_empty_table(trained, tmp_path):
    home, _ = trained
    pd.read_csv(CREDIT).drop(columns=["class"]).head(0).to_csv(tmp_path / "none.csv", index=False)
    done = trainforge("predict", "credit", str(tmp_path / "none.csv"), "-o",
                      str(tmp_path / "out.csv"), home=home)
    assert done.returncode == 0, done.stderr
    assert list(pd.read_csv(tmp_path / "out.csv").columns) == ["prediction", "bad", "good"]
