"""What the command says when it cannot do what was asked: one line on stderr naming what was
wrong and what to do, its exit code, and no traceback. Run in-process (tests/_cli.py); the
journeys in tests/e2e run the real command."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from tests._paths import EXAMPLES

CREDIT = EXAMPLES / "credit_g.csv"
CONCRETE = EXAMPLES / "concrete.csv"
WINE = EXAMPLES / "wine.csv"
DIGITS = EXAMPLES / "digits"


def test_a_missing_target_column_is_one_line_naming_the_columns(cli, tmp_path):
    done = cli("train", str(CREDIT), "--target", "klass", "--trials", "1", home=tmp_path)
    assert done.returncode == 2
    assert "'klass'" in done.stderr and "checking_status" in done.stderr
    assert "Did you mean 'class'" in done.stderr and "Traceback" not in done.stderr


def test_a_budget_too_small_for_any_model_says_so_plainly(cli, tmp_path):
    done = cli("train", str(CONCRETE), "--target", "compressive_strength",
               "--time-budget", "0.5", home=tmp_path)
    assert done.returncode == 3
    assert "--time-budget" in done.stderr


def test_an_unknown_algorithm_is_refused_before_the_data_is_read(cli, tmp_path):
    done = cli("train", str(tmp_path / "not-there.csv"), "--target", "y",
               "--algorithm", "lightgbmm", home=tmp_path)
    assert done.returncode == 2
    assert "Did you mean 'lightgbm'" in done.stderr


def test_a_file_that_does_not_exist_is_named(cli, tmp_path):
    done = cli("train", str(tmp_path / "not-there.csv"), "--target", "y", home=tmp_path)
    assert done.returncode == 2
    assert "not-there.csv" in done.stderr


def test_a_network_for_text_refuses_a_table_without_text(cli, tmp_path):
    done = cli("train", str(CREDIT), "--target", "class", "--algorithm", "gru",
               "--trials", "1", home=tmp_path)
    assert done.returncode != 0
    assert "cannot learn from table data" in done.stderr


def test_a_class_with_a_single_image_is_refused_naming_the_class(cli, tmp_path):
    folder = tmp_path / "digits"
    for label in ("0", "1"):
        (folder / label).mkdir(parents=True)
        for image in sorted((DIGITS / label).iterdir())[:8]:
            shutil.copy(image, folder / label / image.name)
    (folder / "9").mkdir()
    shutil.copy(next((DIGITS / "9").iterdir()), folder / "9" / "only.png")
    done = cli("train", str(folder), "--trials", "1", home=tmp_path / "home")
    assert done.returncode == 2
    assert "single row: '9'" in done.stderr.replace("\n", " ")


def test_a_table_with_nothing_to_compare_is_refused_naming_the_columns(cli, tmp_path):
    table = tmp_path / "ids.csv"
    pd.DataFrame({"customer_id": [f"c{i:04d}" for i in range(50)], "country": ["NL"] * 50}
                 ).to_csv(table, index=False)
    done = cli("cluster", str(table), home=tmp_path)
    assert done.returncode != 0
    assert "customer_id" in done.stderr and "country" in done.stderr


def test_a_single_row_is_refused_saying_how_many_are_needed(cli, tmp_path):
    table = tmp_path / "one.csv"
    pd.DataFrame({"x": [1.0], "y": [2.0]}).to_csv(table, index=False)
    done = cli("anomalies", str(table), home=tmp_path)
    assert done.returncode != 0 and "only 1 row" in done.stderr and "at least 3" in done.stderr


def test_an_excluded_column_that_does_not_exist_is_named(cli, tmp_path):
    done = cli("cluster", str(WINE), "--exclude", "cultivr", home=tmp_path)
    assert done.returncode != 0 and "'cultivr'" in done.stderr and "cultivar" in done.stderr


def test_evaluate_refuses_a_clustering_model_saying_why(cli, tmp_path: Path):
    import trainforge as tf
    from trainforge.workspace import Workspace

    tf.cluster(WINE, exclude=["cultivar"], name="wine", k=3, method="kmeans", time_budget=10,
               workspace=Workspace(tmp_path))
    done = cli("evaluate", "wine", str(WINE), home=tmp_path)
    assert done.returncode != 0 and "clustering model" in done.stderr


def test_a_model_that_is_not_registered_is_named(cli, tmp_path):
    done = cli("predict", "nothing-here", str(WINE), "-o", str(tmp_path / "out.csv"),
               home=tmp_path)
    assert done.returncode != 0 and "nothing-here" in done.stderr
    assert not (tmp_path / "out.csv").exists()


def test_an_unknown_metric_is_refused_naming_the_ones_that_apply(cli, tmp_path):
    done = cli("train", str(CREDIT), "--target", "class", "--metric", "rmse", "--trials", "1",
               home=tmp_path)
    assert done.returncode == 2
    assert "rmse" in done.stderr and "roc_auc" in done.stderr
