from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.data._tables import SMS

from trainforge.data.dataset import ColumnKind
from trainforge.data.schema import infer_schema, looks_like_id_name


def kind_of(values: list[object], name: str = "col") -> ColumnKind:
    return infer_schema(pd.DataFrame({name: values}))[name]


def test_floats_with_many_values_are_numeric():
    assert kind_of([0.5 * i for i in range(50)]) is ColumnKind.NUMERIC


def test_a_small_integer_code_stays_numeric():
    assert kind_of([0, 1, 2] * 20, name="education_level") is ColumnKind.NUMERIC


def test_integers_zero_and_one_are_numeric_not_boolean():
    assert kind_of([0, 1] * 20) is ColumnKind.NUMERIC


def test_a_bool_column_is_boolean():
    assert kind_of([True, False] * 10) is ColumnKind.BOOLEAN


@pytest.mark.parametrize("pair", [("yes", "no"), ("True", "False"), ("Y", "N"), ("t", "f")])
def test_two_boolean_words_are_boolean(pair: tuple[str, str]):
    assert kind_of(list(pair) * 10 + [None]) is ColumnKind.BOOLEAN


def test_two_ordinary_words_are_categorical():
    assert kind_of(["red", "blue"] * 10) is ColumnKind.CATEGORICAL


def test_numbers_written_as_text_with_a_little_junk_are_numeric():
    values = [str(i) for i in range(99)] + ["n.a."]
    assert kind_of(values) is ColumnKind.NUMERIC


def test_text_that_is_mostly_not_numbers_is_categorical():
    assert kind_of(["1", "2", "x", "y", "z"] * 10) is ColumnKind.CATEGORICAL


@pytest.mark.parametrize("dates", [
    ["2024-01-31", "2024-02-29", "2023-12-01"],
    ["31/01/2024", "29/02/2024", "01/12/2023"],
    ["2024-01-31 10:00:00", "2024-02-29 11:30:00", "2023-12-01 00:00:00"],
    ["Jan 5, 2024", "Feb 10, 2024", "Mar 3, 2023"],
])
def test_date_strings_are_datetime(dates: list[str]):
    assert kind_of(dates * 10) is ColumnKind.DATETIME


def test_a_datetime_dtype_is_datetime():
    assert kind_of(list(pd.date_range("2024-01-01", periods=5))) is ColumnKind.DATETIME


def test_month_names_alone_are_categorical():
    assert kind_of(["october", "august", "july"] * 10) is ColumnKind.CATEGORICAL


def test_sms_messages_are_text():
    frame = pd.read_csv(SMS, nrows=500)
    schema = infer_schema(frame)
    assert schema == {"label": ColumnKind.CATEGORICAL, "text": ColumnKind.TEXT}


def test_unique_integers_named_like_an_id_are_an_id():
    assert kind_of(list(range(100, 130)), name="customerID") is ColumnKind.ID


def test_unique_integers_with_an_ordinary_name_are_numeric():
    assert kind_of(list(range(100, 130)), name="income") is ColumnKind.NUMERIC


def test_unique_short_strings_are_an_id():
    assert kind_of([f"C-{i:05d}" for i in range(30)], name="code") is ColumnKind.ID


def test_a_few_unique_strings_are_still_categories():
    assert kind_of(["Oslo", "Lima", "Rome"], name="city") is ColumnKind.CATEGORICAL


@pytest.mark.parametrize("name, expected", [
    ("id", True), ("customer_id", True), ("customerId", True), ("OrderID", True),
    ("row key", True), ("Unnamed: 0", True), ("paid", False), ("valid", False), ("idea", False),
])
def test_id_names_are_recognised_by_their_last_word(name: str, expected: bool):
    assert looks_like_id_name(name) is expected


def test_an_all_missing_column_gets_a_kind():
    schema = infer_schema(pd.DataFrame({"a": [np.nan] * 3, "b": pd.Series([None] * 3,
                                                                          dtype="str")}))
    assert schema == {"a": ColumnKind.NUMERIC, "b": ColumnKind.CATEGORICAL}
