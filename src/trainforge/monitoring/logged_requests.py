"""Finding logged predictions again: by request id, or by the value of one logged input.

Feedback names the prediction it is for; these look it up in the prediction log without
reading the log whole. Each lookup reads only the columns it needs (Parquet is columnar), and
the request-id lookup filters inside Arrow (``pyarrow.dataset``), so its cost grows with the
number of logged rows (one pass over two small columns), not with what else is logged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from trainforge.monitoring.prediction_log import INPUT_PREFIX

KEY_COLUMNS = ("request_id", "row", "time", "model", "version")
# the columns every log file has, as the writer types them: a dataset with this schema reads
# them alike from files written by different model versions (with different inputs)
_KEY_SCHEMA = pa.schema([("request_id", pa.string()), ("row", pa.int32()),
                         ("time", pa.timestamp("us", tz="UTC")), ("model", pa.string()),
                         ("version", pa.int32())])


def log_files(root: Path, deployment: str) -> list[Path]:
    """The Parquet files of ``deployment``'s log, oldest day first."""
    folder = root / deployment
    return sorted(folder.glob("*/part-*.parquet")) if folder.is_dir() else []


def _empty(extra: Sequence[str] = ()) -> pd.DataFrame:
    return pd.DataFrame(columns=[*KEY_COLUMNS, *extra])


def find_requests(root: Path, deployment: str, request_ids: Iterable[str]) -> pd.DataFrame:
    """The logged rows (``KEY_COLUMNS``) of ``deployment`` answering one of ``request_ids``."""
    wanted = sorted(set(request_ids))
    files = log_files(root, deployment)
    if not wanted or not files:
        return _empty()
    table = ds.dataset([str(f) for f in files], schema=_KEY_SCHEMA, format="parquet").to_table(
        filter=ds.field("request_id").isin(wanted))
    return table.to_pandas()


def logged_inputs(root: Path, deployment: str) -> set[str]:
    """The input columns ``deployment``'s log holds (read from the files' footers only)."""
    names: set[str] = set()
    for path in log_files(root, deployment):
        names.update(name[len(INPUT_PREFIX):] for name in pq.read_schema(path).names
                     if name.startswith(INPUT_PREFIX))
    return names


def find_by_input(root: Path, deployment: str, column: str,
                  values: Iterable[Any]) -> pd.DataFrame:
    """The logged rows whose input ``column`` equals one of ``values`` (compared as
    ``value_key`` writes them), with ``KEY_COLUMNS`` and a ``key`` column."""
    wanted = {value_key(v) for v in values} - {None}
    logged = INPUT_PREFIX + column
    frames = []
    for path in log_files(root, deployment):
        if logged not in pq.read_schema(path).names:
            continue
        frame = pq.read_table(path, columns=[*KEY_COLUMNS, logged]).to_pandas()
        frame["key"] = [value_key(v) for v in frame.pop(logged).tolist()]
        frames.append(frame[frame["key"].isin(wanted)])
    return pd.concat(frames, ignore_index=True) if frames else _empty(["key"])


def value_key(value: Any) -> str | None:
    """A value as text, so that a value read from a CSV matches the one logged from JSON:
    ``7``, ``7.0`` and ``"7"`` are one key; a missing value is None."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # a numpy scalar
    if value is None or isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
