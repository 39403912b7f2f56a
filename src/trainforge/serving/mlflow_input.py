"""MLflow's scoring formats (``POST /invocations``), turned into records.

Accepted, as ``mlflow models serve`` accepts them for a tabular model: JSON bodies
``{"dataframe_records": [{...}, ...]}``, ``{"dataframe_split": {"columns": [...],
"data": [[...], ...]}}``, ``{"instances": [{...}, ...]}`` and ``{"inputs": [{...}, ...]}`` or
``{"inputs": {"column": [values...], ...}}``; and ``text/csv`` with a header row. Rows are counted
before any record is built, and a message never repeats what the body held.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from trainforge.errors import InvalidRequest, TooManyRecords

FORMATS = ("dataframe_records", "dataframe_split", "instances", "inputs")


def _counted(n_rows: int, max_records: int) -> None:
    if n_rows > max_records:
        raise TooManyRecords(max_records, n_records=n_rows)


def _records(value: Any, key: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise InvalidRequest(f"{key!r} must be a list of records (JSON objects), one per row; "
                             f"got {type(value).__name__}")
    return value


def _split(value: Any, max_records: int) -> list[dict[str, Any]]:
    if not isinstance(value, Mapping) or "columns" not in value or "data" not in value:
        raise InvalidRequest("'dataframe_split' must be an object with 'columns' (names) and "
                             "'data' (a list of rows, each a list of values)")
    columns, data = value["columns"], value["data"]
    if not isinstance(columns, list) or not isinstance(data, list):
        raise InvalidRequest("'dataframe_split': 'columns' and 'data' must both be lists")
    _counted(len(data), max_records)
    if not all(isinstance(c, str) for c in columns):
        raise InvalidRequest("'dataframe_split': 'columns' must be a list of column names")
    for index, row in enumerate(data):
        if not isinstance(row, list) or len(row) != len(columns):
            raise InvalidRequest(f"'dataframe_split': data row {index} must be a list of "
                                 f"{len(columns)} values, one per column in 'columns'")
    return [dict(zip(columns, row, strict=True)) for row in data]


def _columnar(value: Mapping[str, Any], max_records: int) -> list[dict[str, Any]]:
    lengths = {len(v) if isinstance(v, list) else -1 for v in value.values()}
    if len(lengths) != 1 or -1 in lengths:
        raise InvalidRequest("'inputs' as an object must map every column to a list of values, "
                             "all of the same length")
    _counted(lengths.pop(), max_records)
    names = list(value)
    return [dict(zip(names, row, strict=True)) for row in zip(*value.values(), strict=True)]


def records_from_mlflow(payload: Any, *, max_records: int) -> tuple[str, list[dict[str, Any]]]:
    """The format used and the records of an MLflow scoring payload; TooManyRecords when it
    holds more than ``max_records`` rows."""
    if not isinstance(payload, Mapping):
        raise InvalidRequest("the body must be a JSON object with one of the keys "
                             f"{', '.join(FORMATS)}")
    given = [key for key in FORMATS if key in payload]
    if len(given) != 1:
        raise InvalidRequest(f"the body must have exactly one of the keys {', '.join(FORMATS)}; "
                             f"it has {len(given)} of them")
    key = given[0]
    value = payload[key]
    if key == "dataframe_split":
        return key, _split(value, max_records)
    if key == "inputs" and isinstance(value, Mapping):
        return key, _columnar(value, max_records)
    records = _records(value, key)
    _counted(len(records), max_records)
    return key, records


def records_from_csv(body: bytes, *, max_records: int) -> list[dict[str, Any]]:
    """The records of a CSV body with a header row; an empty cell is a missing value (as
    pandas reads it). Reading stops at the first row past ``max_records``."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidRequest("the CSV body is not UTF-8 text; send it encoded as UTF-8") from None
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(rows, None)
        if header is None:
            raise InvalidRequest("the CSV body is empty; send a header row, then one row per "
                                 "record")
        records: list[dict[str, Any]] = []
        for row in rows:
            if len(records) == max_records:
                raise TooManyRecords(max_records)
            if len(row) != len(header):
                raise InvalidRequest(f"CSV row {len(records) + 1} has {len(row)} cells; the "
                                     f"header has {len(header)} columns")
            records.append({name: cell or None for name, cell in zip(header, row, strict=True)})
    except csv.Error as error:  # a field over csv's size limit, a stray quote
        raise InvalidRequest(f"the CSV body cannot be read: {error}; send a header row, then "
                             "one row per record, quoting cells that hold commas") from None
    return records
