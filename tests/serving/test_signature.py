"""Request records checked against a model's input signature."""

from __future__ import annotations

import orjson
import pytest

from trainforge.algorithms.model import FeatureSpec
from trainforge.data.dataset import ColumnKind
from trainforge.serving.signature import RecordsInvalid, Signature

ODD_NAMES = [FeatureSpec("_id", ColumnKind.NUMERIC, "number"),
             FeatureSpec("model_config", ColumnKind.CATEGORICAL, "string"),
             FeatureSpec("hours-per-week", ColumnKind.NUMERIC, "number"),
             FeatureSpec("feature_0", ColumnKind.BOOLEAN, "boolean")]


def test_any_column_name_can_be_a_field():
    signature = Signature("odd", ODD_NAMES)
    body = {"records": [{"_id": 1, "model_config": "a", "hours-per-week": 40, "feature_0": "yes"}]}
    columns = signature.parse_request(orjson.dumps(body))
    assert columns.values == {"_id": [1.0], "model_config": ["a"], "hours-per-week": [40.0],
                              "feature_0": ["yes"]}
    assert columns.ignored_fields == []


def test_an_error_names_the_column_as_it_is_spelled():
    signature = Signature("odd", ODD_NAMES)
    body = {"records": [{"_id": 1, "model_config": "a", "feature_0": True}]}
    with pytest.raises(RecordsInvalid) as raised:
        signature.parse_request(orjson.dumps(body))
    assert [e["loc"] for e in raised.value.errors] == [["body", "records", 0, "hours-per-week"]]


def test_category_codes_sent_as_numbers_become_strings():
    signature = Signature("odd", ODD_NAMES)
    body = {"records": [{"_id": 1, "model_config": 3, "hours-per-week": "40.5", "feature_0": 1}]}
    columns = signature.parse_request(orjson.dumps(body))
    assert columns.values["model_config"] == ["3"]
    assert columns.values["hours-per-week"] == [40.5]
    assert columns.values["feature_0"] == ["1"]
