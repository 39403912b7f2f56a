"""MLflow's scoring formats (``POST /invocations``), turned into records.

Accepted, as ``mlflow models serve`` accepts them for a tabular model:
``{"dataframe_records": [{...}, ...]}``, ``{"dataframe_split": {"columns": [...],
"data": [[...], ...]}}``, ``{"instances": [{...}, ...]}`` and ``{"inputs": [{...}, ...]}`` or
``{"inputs": {"column": [values...], ...}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainforge.errors import InvalidRequest

FORMATS = ("dataframe_records", "dataframe_split", "instances", "inputs")


def _records(value: Any, key: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise InvalidRequest(f"{key!r} must be a list of records (JSON objects), one per row; "
                             f"got {type(value).__name__}")
    return value


def _split(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, Mapping) or "columns" not in value or "data" not in value:
        raise InvalidRequest("'dataframe_split' must be an object with 'columns' (names) and "
                             "'data' (a list of rows, each a list of values)")
    columns, data = value["columns"], value["data"]
    if not isinstance(columns, list) or not isinstance(data, list):
        raise InvalidRequest("'dataframe_split': 'columns' and 'data' must both be lists")
    for index, row in enumerate(data):
        if not isinstance(row, list) or len(row) != len(columns):
            raise InvalidRequest(f"'dataframe_split': data row {index} must be a list of "
                                 f"{len(columns)} values, one per column in 'columns'")
    return [dict(zip(columns, row, strict=True)) for row in data]


def _columnar(value: Mapping[str, Any]) -> list[dict[str, Any]]:
    lengths = {len(v) if isinstance(v, list) else -1 for v in value.values()}
    if len(lengths) != 1 or -1 in lengths:
        raise InvalidRequest("'inputs' as an object must map every column to a list of values, "
                             "all of the same length")
    names = list(value)
    return [dict(zip(names, row, strict=True)) for row in zip(*value.values(), strict=True)]


def records_from_mlflow(payload: Any) -> tuple[str, list[dict[str, Any]]]:
    """The format used and the records of an MLflow scoring payload."""
    if not isinstance(payload, Mapping):
        raise InvalidRequest("the body must be a JSON object with one of the keys "
                             f"{', '.join(FORMATS)}")
    given = [key for key in FORMATS if key in payload]
    if len(given) != 1:
        raise InvalidRequest(f"the body must have exactly one of the keys {', '.join(FORMATS)}; "
                             f"it has {', '.join(map(str, payload)) or 'none'}")
    key = given[0]
    value = payload[key]
    if key == "dataframe_split":
        return key, _split(value)
    if key == "inputs" and isinstance(value, Mapping):
        return key, _columnar(value)
    return key, _records(value, key)
