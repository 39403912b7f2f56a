from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trainforge.data.dataset import ColumnKind, Dataset
from trainforge.data.read import read_table
from trainforge.data.schema import infer_schema
from trainforge.data.targets import clean_target, feature_columns, infer_task
from trainforge.data.task import DEFAULT_METRIC, Task, TaskKind
from trainforge.errors import NoUsableFeatures, UnusableTarget


def labelled(labels: list[object]) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(len(labels), dtype="float64"), "y": labels})


def binary(classes: tuple[str, ...] = ("a", "b")) -> Task:
    return Task("y", TaskKind.BINARY, DEFAULT_METRIC[TaskKind.BINARY], classes)


def test_rows_without_a_target_are_dropped_and_counted(write):
    path = write("t.csv", "x,y\n1,a\n2,\n3,b\n4,NA\n5,a\n6,b\n")
    dataset = read_table(path)
    frame, report = clean_target(dataset, infer_task(dataset, "y"))
    assert frame["x"].tolist() == [1, 3, 5, 6]
    assert (report.n_missing, report.n_dropped, report.n_kept) == (2, 2, 4)
    assert report.notes == ["dropped 2 of 6 rows whose target 'y' is missing"]


def test_nothing_dropped_means_no_notes():
    dataset = read_table(labelled(["a", "b"] * 3))
    _, report = clean_target(dataset, infer_task(dataset, "y"))
    assert (report.notes, report.class_counts) == ([], {"a": 3, "b": 3})


def test_class_targets_become_label_strings_as_in_the_file(write):
    dataset = read_table(write("t.csv", "x,survived\n" + "".join(f"{i},{i % 2}\n" for i in range(20))))
    frame, _ = clean_target(dataset, infer_task(dataset, "survived"))
    assert sorted(frame["survived"].unique()) == ["0", "1"]


def test_integer_labels_with_gaps_become_the_classes_without_decimals(write):
    dataset = read_table(write("g.csv", "x,y\n1,0\n2,\n3,1\n4,0\n5,1\n"))
    frame, _ = clean_target(dataset, infer_task(dataset, "y"))
    assert frame["y"].tolist() == ["0", "1", "0", "1"]


def test_a_regression_target_that_is_not_a_number_is_dropped_and_counted():
    frame = labelled([str(v) for v in range(30)] + ["broken"])
    dataset = Dataset(frame, infer_schema(frame), "t.csv")  # as built, not as read_table reads
    task = infer_task(dataset, "y")
    frame, report = clean_target(dataset, task)
    assert (task.kind, len(frame), report.n_not_number) == (TaskKind.REGRESSION, 30, 1)
    assert frame["y"].dtype == "float64"
    assert "is not a number" in report.notes[0]


def test_a_target_missing_everywhere_is_refused():
    with pytest.raises(UnusableTarget, match="no usable value in any row"):
        clean_target(read_table(labelled([None, None, None])), binary())


def test_a_constant_target_is_refused():
    with pytest.raises(UnusableTarget, match="has one class only"):
        clean_target(read_table(labelled(["a"] * 5)), binary())


def test_a_constant_regression_target_is_refused():
    task = Task("y", TaskKind.REGRESSION, "r2")
    with pytest.raises(UnusableTarget, match="is constant"):
        clean_target(read_table(labelled([2.5] * 5)), task)


def test_a_class_with_a_single_row_is_named_with_what_to_do():
    dataset = read_table(labelled(["a", "a", "b", "b", "rare"]))
    task = Task("y", TaskKind.MULTICLASS, "balanced_accuracy", ("a", "b", "rare"))
    with pytest.raises(UnusableTarget, match=r"single row: 'rare'.*merge"):
        clean_target(dataset, task)


def test_labels_the_task_does_not_know_are_refused():
    with pytest.raises(UnusableTarget, match="classes the task does not know: 'c'"):
        clean_target(read_table(labelled(["a", "b", "c"] * 2)), binary())


def test_features_leave_out_the_target_ids_and_empty_or_constant_columns():
    frame = pd.DataFrame({"customer_id": range(30), "age": range(30, 60), "empty": [None] * 30,
                          "same": ["x"] * 30, "city": ["Oslo", "Lima", "Rome"] * 10,
                          "y": ["a", "b"] * 15})
    dataset = read_table(frame)
    assert dataset.schema["customer_id"] is ColumnKind.ID
    assert feature_columns(dataset.schema, "y", frame=dataset.frame) == ["age", "city"]


def test_an_all_missing_column_is_not_a_feature(write):
    dataset = read_table(write("m.csv", "a,b,y\n1,,u\n2,,v\n3,,u\n"))
    assert feature_columns(dataset.schema, "y", frame=dataset.frame) == ["a"]


def test_without_the_frame_only_the_target_and_ids_are_left_out():
    schema = {"id": ColumnKind.ID, "a": ColumnKind.NUMERIC, "y": ColumnKind.CATEGORICAL}
    assert feature_columns(schema, "y") == ["a"]


def test_no_usable_feature_says_why_each_column_was_left_out():
    frame = pd.DataFrame({"same": [1] * 5, "y": ["a", "b", "a", "b", "a"]})
    with pytest.raises(NoUsableFeatures, match="'same' is constant; 'y' is the target"):
        feature_columns(read_table(frame).schema, "y", frame=frame)
