from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trainforge.data.splits import train_test_split
from trainforge.data.task import Task, TaskKind
from trainforge.errors import ColumnNotFound, ConfigError

BINARY = Task("y", TaskKind.BINARY, "roc_auc", ("no", "yes"))
MULTICLASS = Task("y", TaskKind.MULTICLASS, "balanced_accuracy", ("a", "b", "c"))
REGRESSION = Task("y", TaskKind.REGRESSION, "r2")


def table(labels: list[object]) -> pd.DataFrame:
    n_rows = len(labels)
    return pd.DataFrame({"x": np.arange(n_rows), "group": np.arange(n_rows) // 10,
                         "when": pd.date_range("2024-01-01", periods=n_rows).astype("str")[::-1],
                         "y": labels})


def test_a_stratified_split_keeps_the_class_shares():
    frame = table(["no"] * 90 + ["yes"] * 10)
    train, test = train_test_split(frame, BINARY, test_size=0.2, seed=1)
    assert (len(train), len(test)) == (80, 20)
    assert test["y"].value_counts().to_dict() == {"no": 18, "yes": 2}


def test_every_class_with_two_rows_lands_on_both_sides():
    frame = table(["a"] * 40 + ["b"] * 2 + ["c"] * 3)
    train, test = train_test_split(frame, MULTICLASS, test_size=0.1)
    assert set(train["y"]) == set(test["y"]) == {"a", "b", "c"}


def test_the_same_seed_gives_the_same_split_and_another_seed_another():
    frame = table(["no", "yes"] * 50)
    first = train_test_split(frame, BINARY, seed=7)[1].index.tolist()
    assert train_test_split(frame, BINARY, seed=7)[1].index.tolist() == first
    assert train_test_split(frame, BINARY, seed=8)[1].index.tolist() != first


def test_train_and_test_share_no_row_and_cover_the_table():
    frame = table([float(i) for i in range(50)])
    train, test = train_test_split(frame, REGRESSION, test_size=0.3)
    assert sorted(train.index.tolist() + test.index.tolist()) == list(range(50))
    assert len(test) == 15


def test_a_group_split_puts_each_group_on_one_side_only():
    frame = table(["no", "yes"] * 50)
    train, test = train_test_split(frame, BINARY, strategy="group", group_column="group")
    assert not set(train["group"]) & set(test["group"])
    assert len(test) == 20


def test_a_time_split_tests_on_the_latest_rows():
    frame = table(["no", "yes"] * 50)
    train, test = train_test_split(frame, BINARY, strategy="time", time_column="when")
    assert pd.to_datetime(test["when"]).min() > pd.to_datetime(train["when"]).max()
    assert len(test) == 20


def test_a_missing_group_column_is_named_with_the_flag():
    with pytest.raises(ColumnNotFound, match="'team' is not in .*--group-column"):
        train_test_split(table(["no", "yes"] * 5), BINARY, strategy="group", group_column="team")


def test_a_group_split_without_a_group_column_says_which_flag_to_pass():
    with pytest.raises(ConfigError, match="pass --group-column"):
        train_test_split(table(["no", "yes"] * 5), BINARY, strategy="group")


def test_a_missing_time_column_is_named_with_the_flag():
    with pytest.raises(ColumnNotFound, match="'date' is not in .*--time-column"):
        train_test_split(table(["no", "yes"] * 5), BINARY, strategy="time", time_column="date")


def test_a_time_column_that_holds_no_dates_is_refused():
    frame = table(["no", "yes"] * 5).assign(when="soon")
    with pytest.raises(ConfigError, match="'when' does not hold dates"):
        train_test_split(frame, BINARY, strategy="time", time_column="when")


def test_an_unknown_strategy_lists_the_known_ones():
    with pytest.raises(ConfigError, match="'shuffle'.*stratified, random, group, time"):
        train_test_split(table(["no", "yes"] * 5), BINARY, strategy="shuffle")
