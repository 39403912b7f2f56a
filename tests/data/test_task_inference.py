from __future__ import annotations

import json

import pandas as pd
import pytest
from tests.data._tables import BENCH, CONCRETE, CREDIT

from trainforge.data.read import read_table
from trainforge.data.targets import infer_task
from trainforge.data.task import TaskKind
from trainforge.errors import ColumnNotFound, UnknownMetric, UnusableTarget

SUITE_FILE = BENCH / "suite.json"
SUITE = json.loads(SUITE_FILE.read_text())["datasets"] if SUITE_FILE.exists() else []


@pytest.mark.skipif(not SUITE_FILE.exists(), reason="needs the 18-table benchmark suite in "
                    "../shared/bench beside the repository (not part of a clone)")
@pytest.mark.parametrize("entry", SUITE, ids=[d["name"] for d in SUITE])
def test_the_inferred_kind_matches_the_benchmark_suite(entry: dict[str, str]):
    task = infer_task(read_table(BENCH / entry["path"]), entry["target"])
    assert task.kind.value == entry["task"]


def test_classes_are_the_labels_as_written_sorted(write):
    rows = "".join(f"{i},{1 if i % 3 else -1}\n" for i in range(30))
    task = infer_task(read_table(write("m.csv", "x,class\n" + rows)), "class")
    assert task.classes == ("-1", "1")


def test_word_labels_keep_their_spelling():
    task = infer_task(read_table(CREDIT), "class")
    assert task.classes == ("bad", "good")


def test_labels_written_as_floats_keep_the_decimal(write):
    rows = "".join(f"{i},{i % 2}.0\n" for i in range(20))
    task = infer_task(read_table(write("f.csv", "x,y\n" + rows)), "y")
    assert task.classes == ("0.0", "1.0")


def test_integer_labels_with_missing_rows_stay_integers(write):
    rows = "".join(f"{i},{i % 2 if i % 5 else ''}\n" for i in range(20))
    task = infer_task(read_table(write("g.csv", "x,y\n" + rows)), "y")
    assert task.classes == ("0", "1")


def test_integer_labels_with_a_junk_value_stay_integers(write):
    rows = "".join(f"{i},{i % 3}\n" for i in range(60)) + "60,unknown\n"
    task = infer_task(read_table(write("j.csv", "x,y\n" + rows)), "y")
    assert task.classes == ("0", "1", "2")


def test_boolean_words_are_a_binary_task(write):
    rows = "".join(f"{i},{'true' if i % 3 else 'false'}\n" for i in range(20))
    task = infer_task(read_table(write("b.csv", "x,paid\n" + rows)), "paid")
    assert (task.kind, task.classes) == (TaskKind.BINARY, ("false", "true"))


def test_three_integer_codes_are_multiclass():
    frame = pd.DataFrame({"x": range(60), "y": [1, 2, 3] * 20})
    assert infer_task(read_table(frame), "y").kind is TaskKind.MULTICLASS


def test_floats_with_many_values_are_regression():
    frame = pd.DataFrame({"x": range(60), "y": [i * 0.37 for i in range(60)]})
    assert infer_task(read_table(frame), "y").kind is TaskKind.REGRESSION


def test_integers_with_many_distinct_values_are_regression():
    frame = pd.DataFrame({"x": range(200), "y": [i % 50 for i in range(200)]})
    assert infer_task(read_table(frame), "y").kind is TaskKind.REGRESSION


def test_a_single_peaked_run_of_scores_is_regression():
    scores = [3] * 5 + [4] * 40 + [5] * 300 + [6] * 400 + [7] * 150 + [8] * 30 + [9] * 2
    frame = pd.DataFrame({"x": range(len(scores)), "quality": scores})
    assert infer_task(read_table(frame), "quality").kind is TaskKind.REGRESSION


def test_the_default_metric_follows_the_kind():
    task = infer_task(read_table(CONCRETE), "compressive_strength")
    assert task.metric == "r2"


def test_a_metric_the_user_names_is_kept():
    task = infer_task(read_table(CREDIT), "class", metric="f1")
    assert task.metric == "f1"


def test_a_metric_for_another_kind_of_task_is_refused_listing_the_valid_ones():
    with pytest.raises(UnknownMetric, match="'rmse' does not apply to a binary task.*roc_auc"):
        infer_task(read_table(CREDIT), "class", metric="rmse")


def test_a_missing_target_lists_the_columns_and_the_flag():
    with pytest.raises(ColumnNotFound, match=r"'Class' is not in .*credit_g.*checking_status.*"
                                             r"Did you mean 'class'.*--target"):
        infer_task(read_table(CREDIT), "Class")


def test_a_constant_target_is_refused():
    frame = pd.DataFrame({"x": range(10), "y": ["same"] * 10})
    with pytest.raises(UnusableTarget, match="'y' in <DataFrame> has one value only"):
        infer_task(read_table(frame), "y")


def test_an_all_missing_target_is_refused():
    frame = pd.DataFrame({"x": range(10), "y": [None] * 10})
    with pytest.raises(UnusableTarget, match="every row is missing"):
        infer_task(read_table(frame), "y")


def test_the_kind_can_be_given_instead_of_inferred():
    credit = read_table(CREDIT)  # 'duration' in months: 33 whole numbers, inferred as regression
    task = infer_task(credit, "duration", kind=TaskKind.MULTICLASS)
    assert (task.kind, len(task.classes)) == (TaskKind.MULTICLASS, 33)
