from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from tests.data._tables import ADULT, CONCRETE, CREDIT

from trainforge.data.dataset import ColumnKind
from trainforge.data.profile import profile
from trainforge.data.read import read_table


@pytest.mark.slow
def test_profiling_fifty_thousand_rows_takes_under_a_second():
    adult = read_table(ADULT).frame
    dataset = read_table(pd.concat([adult, adult], ignore_index=True))  # 65,122 rows × 15 columns
    started = time.process_time()  # CPU time: other processes on the machine don't count
    profile(dataset, target="income")
    assert time.process_time() - started < 1.0


def test_each_column_has_its_kind_gaps_distinct_values_and_top_values():
    report = profile(read_table(ADULT), target="income")
    occupation = report.column("occupation")
    assert (report.n_rows, report.n_columns) == (32561, 15)
    assert occupation.kind is ColumnKind.CATEGORICAL
    assert round(occupation.missing_share, 3) == 0.057
    assert report.column("sex").top_values == [("Male", 21790), ("Female", 10771)]


def test_numeric_outliers_follow_the_iqr_rule():
    frame = pd.DataFrame({"v": [float(i) for i in range(1, 20)] + [1000.0]})
    assert profile(read_table(frame)).column("v").outlier_share == 0.05


def test_the_class_balance_of_the_target_is_given_as_shares():
    report = profile(read_table(ADULT), target="income")
    assert {k: round(v, 3) for k, v in report.class_balance.items()} == {"<=50K": 0.759,
                                                                         ">50K": 0.241}


def test_duplicate_rows_are_counted_and_warned_about():
    frame = pd.DataFrame({"a": [1, 1, 2, 3], "b": ["x", "x", "y", "z"]})
    report = profile(read_table(frame))
    assert report.n_duplicate_rows == 1
    assert "1 rows (25.0%) repeat an earlier row exactly" in report.warnings


def test_a_copy_of_the_class_target_is_flagged_as_a_leak():
    dataset = read_table(CREDIT)
    leaky = dataset.frame.assign(decision=dataset.frame["class"].map({"good": "ok", "bad": "no"}))
    report = profile(read_table(leaky), target="class")
    assert [leak.column for leak in report.leaks] == ["decision"]
    assert any("'decision' predicts the target" in w for w in report.warnings)


def test_a_number_that_alone_separates_two_classes_is_a_leak():
    rng = np.random.default_rng(0)
    labels = rng.choice(["no", "yes"], size=300)
    frame = pd.DataFrame({"noise": rng.normal(size=300), "y": labels,
                          "days_to_cancel": np.where(labels == "yes", 1.0, 100.0)
                          + rng.normal(size=300)})
    assert [leak.column for leak in profile(read_table(frame), target="y").leaks] == [
        "days_to_cancel"]


def test_a_near_copy_of_a_regression_target_is_a_leak():
    dataset = read_table(CONCRETE)
    frame = dataset.frame.assign(strength_mpa=dataset.frame["compressive_strength"] * 1.01 + 0.1)
    assert [leak.column for leak in profile(read_table(frame),
                                            target="compressive_strength").leaks] == [
        "strength_mpa"]


def test_honest_tables_have_no_leaks():
    report = profile(read_table(CREDIT), target="class")
    assert report.leaks == []


def test_empty_constant_and_id_columns_are_warned_about():
    frame = pd.DataFrame({"id": range(30), "empty": [None] * 30, "same": [1] * 30,
                          "v": range(30)})
    warnings = profile(read_table(frame)).warnings
    assert "column 'empty' is empty; it is not used as a feature" in warnings
    assert "column 'same' has a single value; it is not used as a feature" in warnings
    assert any(w.startswith("column 'id' looks like an id") for w in warnings)


def test_an_unusable_target_becomes_a_warning_not_a_failure():
    report = profile(read_table(pd.DataFrame({"x": range(5), "y": ["a"] * 5})), target="y")
    assert report.task is None
    assert any("has one value only" in w for w in report.warnings)


def test_the_profile_saves_as_json_and_reads_back(tmp_path: Path):
    report = profile(read_table(ADULT), target="income")
    report.save_json(tmp_path / "profile.json")
    saved = json.loads((tmp_path / "profile.json").read_text())
    assert saved == report.to_dict()
    assert saved["task"]["kind"] == "binary"
    assert saved["columns"][3]["name"] == "education"


def test_the_table_shows_one_row_per_column():
    report = profile(read_table(ADULT), target="income")
    console = Console(width=160, record=True)
    console.print(report.table())
    text = console.export_text()
    assert report.table().row_count == 15
    assert "32,561 rows × 15 columns" in text
