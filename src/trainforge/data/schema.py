"""Infer each column's semantic kind (numeric, categorical, boolean, datetime, text, image, id).

    >>> infer_schema(pd.DataFrame({"age": [31, 45], "smoker": ["yes", "no"]}))
    {'age': <ColumnKind.NUMERIC: 'numeric'>, 'smoker': <ColumnKind.BOOLEAN: 'boolean'>}

The rules look at values, not at dtypes alone: numbers stored as text with a few junk values
are numeric, and a unique-per-row column named like a key is an id (never a feature).
"""

from __future__ import annotations

import re
import warnings

import pandas as pd

from trainforge.data.dataset import ColumnKind, Schema
from trainforge.data.images import looks_like_image_paths

BOOLEAN_WORDS = (frozenset({"true", "false"}), frozenset({"yes", "no"}),
                 frozenset({"y", "n"}), frozenset({"t", "f"}))
NUMERIC_SHARE = 0.95  # text parsing as numbers at least this often is numeric
DATETIME_SHARE = 0.90  # text parsing as dates more often than this is a datetime
TEXT_MIN_WORDS = 4.0  # mean words per value from which strings are free text…
TEXT_MIN_CHARS = 50.0  # …or mean characters per value
TEXT_MIN_DISTINCT_SHARE = 0.3  # …provided values repeat little
ID_MIN_ROWS = 20  # unique strings on fewer rows than this may be an ordinary category

_ID_TOKENS = frozenset({"id", "key", "uuid", "guid", "pk"})
_SAMPLE_VALUES = 5_000
_DATE_SAMPLE = 200
_DATE_LIKE = re.compile(
    r"\d{4}-\d{1,2}(-\d{1,2})?([ T]\d{1,2}:\d{2}.*)?"  # ISO 2024-01-31, 2024-01, with time
    r"|\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}([ T]\d{1,2}:\d{2}.*)?"  # 31/01/2024, 1.2.24
    r"|.*\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s*\d.*"  # Jan 5, 2024
    r"|\d{1,2}\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{2,4}",
    re.IGNORECASE)


def looks_like_id_name(name: str) -> bool:
    """True for names such as ``id``, ``customer_id``, ``customerID``, ``row key``."""
    tokens = [t.lower() for t in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", str(name))]
    lowered = str(name).strip().lower()
    return (bool(tokens) and tokens[-1] in _ID_TOKENS) or lowered == "index" \
        or lowered.startswith("unnamed:")


def _is_unique_per_row(column: pd.Series, present: pd.Series) -> bool:
    return len(present) == len(column) and int(present.nunique()) == len(column)


def _numeric_kind(name: str, column: pd.Series, present: pd.Series) -> ColumnKind:
    integral = pd.api.types.is_integer_dtype(column.dtype) or bool(
        (present.astype("float64") % 1 == 0).all())
    if integral and looks_like_id_name(name) and _is_unique_per_row(column, present):
        return ColumnKind.ID
    return ColumnKind.NUMERIC


def _sample(values: pd.Series, size: int) -> pd.Series:
    return values if len(values) <= size else values.sample(size, random_state=0)


def _is_boolean_text(distinct: set[str]) -> bool:
    lowered = frozenset(v.strip().lower() for v in distinct)
    return len(lowered) == 2 and lowered in BOOLEAN_WORDS


def _is_numeric_text(values: pd.Series) -> bool:
    if float(pd.to_numeric(values.head(200), errors="coerce").notna().mean()) < NUMERIC_SHARE / 2:
        return False  # a column of words: no need to parse it all
    parsed = pd.to_numeric(values, errors="coerce")
    return float(parsed.notna().mean()) >= NUMERIC_SHARE


def _is_datetime_text(values: pd.Series) -> bool:
    sample = pd.Series(values.drop_duplicates().head(_DATE_SAMPLE).to_numpy(dtype=object))
    if float(sample.map(lambda v: bool(_DATE_LIKE.fullmatch(v.strip()))).mean()) <= DATETIME_SHARE:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return float(parsed.notna().mean()) > DATETIME_SHARE


def _is_free_text(values: pd.Series, n_distinct: int) -> bool:
    sample = _sample(values, _SAMPLE_VALUES)
    words = float(sample.str.count(r"\s+").mean()) + 1.0
    chars = float(sample.str.len().mean())
    repeats_little = n_distinct >= TEXT_MIN_DISTINCT_SHARE * len(values)
    return repeats_little and (words >= TEXT_MIN_WORDS or chars >= TEXT_MIN_CHARS)


def _string_kind(name: str, column: pd.Series, present: pd.Series) -> ColumnKind:
    values = present.astype("str")
    n_distinct = int(values.nunique())
    if n_distinct <= 2 and _is_boolean_text(set(values.unique())):
        return ColumnKind.BOOLEAN
    if _is_numeric_text(_sample(values, _SAMPLE_VALUES)):
        return _numeric_kind(name, column, pd.to_numeric(values, errors="coerce").dropna())
    if _is_datetime_text(values):
        return ColumnKind.DATETIME
    if looks_like_image_paths(values):  # before text: long paths would otherwise read as text
        return ColumnKind.IMAGE
    if _is_free_text(values, n_distinct):
        return ColumnKind.TEXT
    unique = _is_unique_per_row(column, values)
    if unique and (looks_like_id_name(name) or len(column) >= ID_MIN_ROWS):
        return ColumnKind.ID
    return ColumnKind.CATEGORICAL


def infer_kind(name: str, column: pd.Series) -> ColumnKind:
    """The semantic kind of one column (see the module docstring for the rules)."""
    present = column.dropna()
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return ColumnKind.BOOLEAN
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return ColumnKind.DATETIME
    if pd.api.types.is_numeric_dtype(dtype):
        return ColumnKind.NUMERIC if present.empty else _numeric_kind(name, column, present)
    if present.empty:
        return ColumnKind.CATEGORICAL
    if not all(isinstance(v, str) for v in present.head(1000)):
        kinds = {type(v) for v in present.head(1000)}
        if kinds <= {bool}:
            return ColumnKind.BOOLEAN
        if all(issubclass(k, (int, float)) for k in kinds):
            return _numeric_kind(name, column, pd.to_numeric(present))
    return _string_kind(name, column, present)


def infer_schema(frame: pd.DataFrame) -> Schema:
    """Each column's ColumnKind, in column order."""
    return {str(name): infer_kind(str(name), frame[name]) for name in frame.columns}
