"""Turning configs, params and metrics into plain JSON that SQLite, Postgres and files accept."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from pathlib import PurePath
from typing import Any


def to_json_value(value: Any, *, where: str = "value") -> Any:
    """A copy of ``value`` made of dicts, lists, str, int, float, bool and None.

    numpy scalars and arrays become numbers and lists; NaN and infinities become None (JSON has
    neither, and Postgres refuses them); paths, enums and dates become strings. Anything else
    raises TypeError naming where it was, e.g. ``metrics['auc']``.
    """
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        # numpy scalars and arrays (checked by module: importing numpy here would slow the CLI)
        return to_json_value(value.tolist(), where=where)
    if isinstance(value, Enum):
        return to_json_value(value.value, where=where)
    if isinstance(value, (PurePath, datetime, date)):
        return value.isoformat() if isinstance(value, (datetime, date)) else str(value)
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v, where=f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [to_json_value(v, where=f"{where}[{i}]") for i, v in enumerate(items)]
    raise TypeError(f"{where} is a {type(value).__name__} ({value!r:.60}), which cannot be "
                    "stored as JSON; pass numbers, strings, lists or dicts")
