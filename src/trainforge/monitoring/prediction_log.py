"""The prediction log: every served prediction, written off the request path as Parquet.

``PredictionLog.record`` is what a predict route calls after it has answered: it applies the
deployment's ``LogPolicy`` (all, a sample, or nothing; columns left out or hashed), appends the
rows to an in-memory queue and returns (a few microseconds). A writer thread turns what has
queued into one Parquet file per deployment and flush, written to a temporary name and renamed,
so a reader never sees half a file. The queue is bounded: when the writer cannot keep up, or
the disk is full, or a write fails for any other reason, the rows are dropped and counted
(``stats``), and predictions go on being answered.

Layout, one folder per deployment (its URL name) and day, so retention removes whole days::

    <root>/<deployment>/<YYYY-MM-DD>/part-<HHMMSS>-<unique>.parquet

Each row: ``request_id`` (one per request), ``row`` (the record's position in it), ``time``
(UTC), ``model`` and ``version`` (what answered), ``latency_ms`` (the whole request's),
``in.<feature>`` for each logged input and ``out.prediction`` (plus ``out.proba.<class>`` for
a classifier, ``out.score`` for an anomaly model).
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import hmac
import logging
import math
import os
import random
import re
import secrets
import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple, Self

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from trainforge.errors import ConfigError
from trainforge.serving.recorder import new_request_id

log = logging.getLogger(__name__)

FLUSH_EVERY_S = 1.0  # the writer wakes this often, or sooner when a batch is full
FLUSH_ROWS = 5_000  # rows that wake the writer at once
# a busy server flushes every second: a day could be 86,400 files, and reading a file costs
# about as much as reading a thousand rows, so each writer merges its own files of a day
# once it has written this many (readers drop the rows seen twice while a merge lands)
COMPACT_FILES = 64
MAX_QUEUED_ROWS = 200_000  # beyond this the newest rows are dropped (and counted)
RETENTION_DAYS = 30
PRUNE_EVERY_S = 3600.0
INPUT_PREFIX, OUTPUT_PREFIX = "in.", "out."
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_KEY_FILE = ".hash-key"

__all__ = ["LogPolicy", "LogStats", "PredictionLog", "new_request_id", "prune",
           "read_predictions"]


@dataclass(frozen=True)
class LogPolicy:
    """What a deployment logs. ``mode``: every request (``all``), a random share of the
    requests (``sample``, at ``rate``), or none; ``exclude``: input columns never written;
    ``hashed``: input columns written as a keyed hash (equal values stay equal, so drift on
    categories is still measured, but the value cannot be read back)."""

    mode: Literal["all", "sample", "none"] = "all"
    rate: float = 1.0
    exclude: tuple[str, ...] = ()
    hashed: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in ("all", "sample", "none"):
            raise ConfigError(f"log mode {self.mode!r} is not one of all, sample, none")
        if not 0.0 < self.rate <= 1.0 and self.mode == "sample":
            raise ConfigError(f"log sample rate {self.rate!r} must be above 0 and at most 1")
        both = sorted(set(self.exclude) & set(self.hashed))
        if both:
            raise ConfigError(f"columns {', '.join(map(repr, both))} are both excluded and "
                              "hashed in the log policy; choose one")

    @classmethod
    def parse(cls, text: str, *, exclude: Sequence[str] = (),
              hashed: Sequence[str] = ()) -> LogPolicy:
        """``all``, ``none`` or ``sample:RATE`` (e.g. ``sample:0.1``), as the CLI takes it."""
        mode, _, rate = text.strip().partition(":")
        if mode == "sample":
            try:
                value = float(rate)
            except ValueError:
                raise ConfigError(f"log policy {text!r}: give the sampled share as "
                                  "sample:RATE, e.g. sample:0.1") from None
            return cls("sample", value, tuple(exclude), tuple(hashed))
        if mode in ("all", "none") and not rate:
            return cls(mode, 1.0, tuple(exclude), tuple(hashed))  # type: ignore[arg-type]
        raise ConfigError(f"log policy {text!r} is not all, none or sample:RATE")

    def check_columns(self, features: Sequence[str]) -> None:
        """Refuse a policy naming a column the model does not take (a typo would log it)."""
        unknown = sorted((set(self.exclude) | set(self.hashed)) - set(features))
        if unknown:
            raise ConfigError(f"log policy names {', '.join(map(repr, unknown))}, which the "
                              f"model does not take (its inputs: {', '.join(features)})")

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "rate": self.rate, "exclude": list(self.exclude),
                "hashed": list(self.hashed)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> LogPolicy:
        return cls(raw.get("mode", "all"), float(raw.get("rate", 1.0)),
                   tuple(raw.get("exclude", ())), tuple(raw.get("hashed", ())))


_LOG_ALL = LogPolicy()  # made once: a policy checks itself when made, too slow per request


@dataclass
class LogStats:
    """What the log did since it started: rows written, and rows dropped with why."""

    written_rows: int = 0
    dropped_rows: dict[str, int] = field(default_factory=dict)  # reason → rows
    files: int = 0

    def drop(self, reason: str, n_rows: int) -> None:
        self.dropped_rows[reason] = self.dropped_rows.get(reason, 0) + n_rows


class _Entry(NamedTuple):  # a tuple: built on the request path, ~4x cheaper than a dataclass
    deployment: str
    model: str
    version: int
    request_id: str
    at: float  # seconds since the epoch (UTC): a datetime is made in the writer, not here
    latency_ms: float
    inputs: Mapping[str, Sequence[Any]]
    outputs: Mapping[str, Sequence[Any]]
    n_rows: int


class PredictionLog:
    """The log of one server process, under ``root``. Start it with ``start()`` (or use it as
    a context manager); ``close()`` writes what is queued and stops the writer."""

    def __init__(self, root: Path, *, retention_days: int = RETENTION_DAYS,
                 flush_every_s: float = FLUSH_EVERY_S,
                 max_queued_rows: int = MAX_QUEUED_ROWS) -> None:
        if retention_days < 1:
            raise ConfigError(f"log retention {retention_days} days must be at least 1 day")
        self.root = root
        self.retention_days = retention_days
        self.flush_every_s = flush_every_s
        self.max_queued_rows = max_queued_rows
        self.stats = LogStats()
        self._policies: dict[str, LogPolicy] = {}
        self._queue: collections.deque[_Entry] = collections.deque()
        self._queued_rows = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._key: bytes | None = None
        self._pruned_at = 0.0
        self._written: dict[Path, list[Path]] = {}  # this writer's files, by day folder
        self._compact_lock = threading.Lock()

    # ---- the request side: cheap, never raises ------------------------------------------
    def set_policy(self, deployment: str, policy: LogPolicy) -> None:
        self._policies = {**self._policies, deployment: policy}  # replaced whole: no lock

    def policy(self, deployment: str) -> LogPolicy:
        return self._policies.get(deployment, _LOG_ALL)

    def record(self, *, deployment: str, model: str, version: int, request_id: str,
               inputs: Mapping[str, Sequence[Any]], outputs: Mapping[str, Sequence[Any]],
               n_rows: int, latency_s: float) -> None:
        """Queue one answered request's rows (``inputs``/``outputs``: column → one value per
        row). Never blocks and never raises: a full queue drops the rows and counts them."""
        try:
            policy = self.policy(deployment)
            if policy.mode == "none" or n_rows == 0:
                return
            if policy.mode == "sample" and random.random() >= policy.rate:  # a sample, not a secret
                return
            if policy.exclude:
                inputs = {k: v for k, v in inputs.items() if k not in policy.exclude}
            entry = _Entry(deployment, model, version, request_id, time.time(),
                           latency_s * 1000.0, inputs, outputs, n_rows)
            with self._lock:
                if self._queued_rows + n_rows > self.max_queued_rows:
                    self.stats.drop("queue full (the writer is behind)", n_rows)
                    return
                self._queue.append(entry)
                self._queued_rows += n_rows
                full = self._queued_rows >= FLUSH_ROWS
            if full:
                self._wake.set()
        except Exception:  # logging must never fail a prediction
            log.exception("a prediction could not be queued for the log")
            self.stats.drop("error while queueing", n_rows)

    # ---- the writer -----------------------------------------------------------------------
    def start(self) -> PredictionLog:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="trainforge-prediction-log",
                                            daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30.0)
        self.flush()  # what came in while it stopped

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def writer_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_every_s)
            self._wake.clear()
            self.flush()
            if time.monotonic() - self._pruned_at > PRUNE_EVERY_S:
                self._pruned_at = time.monotonic()
                try:
                    prune(self.root, retention_days=self.retention_days)
                except OSError:
                    log.exception("old prediction log days could not be removed")

    def flush(self) -> None:
        """Write what is queued now (the writer thread calls this; tests may too)."""
        with self._lock:
            entries = list(self._queue)
            self._queue.clear()
            self._queued_rows = 0
        by_deployment: dict[str, list[_Entry]] = collections.defaultdict(list)
        for entry in entries:
            by_deployment[entry.deployment].append(entry)
        for deployment, group in by_deployment.items():
            n_rows = sum(e.n_rows for e in group)
            try:
                self._write(deployment, group)
            except OSError as error:  # a full disk, a removed folder, no permission
                log.warning("prediction log: %d rows of %s dropped (%s)", n_rows, deployment,
                            error.strerror or type(error).__name__)
                self.stats.drop(f"write failed: {error.strerror or type(error).__name__}",
                                n_rows)
            except Exception:  # the writer must outlive any one batch
                log.exception("prediction log: %d rows of %s could not be written", n_rows,
                              deployment)
                self.stats.drop("write failed: unexpected error", n_rows)
            else:
                self.stats.written_rows += n_rows
                self.stats.files += 1

    def _write(self, deployment: str, entries: list[_Entry]) -> None:
        table = _table(entries, hashed=self.policy(deployment).hashed, key=self._hash_key)
        at = datetime.fromtimestamp(entries[0].at, UTC)
        day = at.date().isoformat()
        folder = self.root / _checked_name(deployment) / day
        folder.mkdir(parents=True, exist_ok=True)
        name = f"part-{at:%H%M%S}-{secrets.token_hex(6)}.parquet"
        partial = folder / f".{name}.partial"
        try:
            pq.write_table(table, partial, compression="zstd")
            os.replace(partial, folder / name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
        self._compact(folder, folder / name)

    def _compact(self, folder: Path, written: Path) -> None:
        """Note ``written``; merge this writer's files of ``folder`` once there are
        ``COMPACT_FILES``. One merge at a time (the writer thread and a caller's ``flush``
        both write); a merge that fails keeps the files as they are: nothing is lost."""
        with self._compact_lock:
            files = self._written.setdefault(folder, [])
            files.append(written)
            if len(files) < COMPACT_FILES:
                return
            try:
                self._written[folder] = [_merged(files)]
            except OSError as error:
                log.warning("prediction log: merging %d files of %s failed (%s); kept as "
                            "they are", len(files), folder, error)


    def _hash_key(self) -> bytes:
        """The log's own secret for hashed columns, made once and kept beside the log."""
        if self._key is None:
            self.root.mkdir(parents=True, exist_ok=True)
            path = self.root / _KEY_FILE
            if not path.exists():
                with contextlib.suppress(FileExistsError):
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "wb") as out:
                        out.write(secrets.token_bytes(32))
            self._key = path.read_bytes()
        return self._key


def serving_log(root: Path, policy: LogPolicy, *, inputs: Mapping[str, Sequence[str]],
                retention_days: int = RETENTION_DAYS) -> PredictionLog | None:
    """The log of one ``trainforge serve`` process: ``policy`` for each served name
    (``inputs``: name → the model's input columns), each checked against its model's inputs
    before anything is served; None when the policy logs nothing (no writer, no cost).

    Example::

        log = serving_log(workspace.prediction_log, LogPolicy.parse("sample:0.1"),
                          inputs={"adult": ["age", "workclass"]})
    """
    for name, features in inputs.items():
        try:
            policy.check_columns(features)
        except ConfigError as error:
            raise ConfigError(f"serving {name!r}: {error}; fix --log-exclude/--log-hash") from None
    if policy.mode == "none":
        return None
    log = PredictionLog(root, retention_days=retention_days)
    for name in inputs:
        log.set_policy(name, policy)
    return log


def _table(entries: list[_Entry], *, hashed: Sequence[str], key: Any) -> pa.Table:
    # column by column, each one comprehension over the entries: the writer shares the
    # interpreter with the requests, so its time per row is serving's throughput
    names_in = list(dict.fromkeys(k for e in entries for k in e.inputs))
    names_out = list(dict.fromkeys(k for e in entries for k in e.outputs))

    def each_row(field: int) -> list[Any]:
        return [e[field] for e in entries for _ in range(e.n_rows)]

    def values(prefix: str, name: str) -> list[Any]:
        if prefix == INPUT_PREFIX:
            return [v for e in entries for v in e.inputs.get(name, [None] * e.n_rows)]
        return [v for e in entries for v in e.outputs.get(name, [None] * e.n_rows)]

    columns: dict[str, list[Any]] = {
        "request_id": each_row(3), "row": [i for e in entries for i in range(e.n_rows)],
        "time": each_row(4), "model": each_row(1), "version": each_row(2),
        "latency_ms": each_row(5)}
    for prefix, names in ((INPUT_PREFIX, names_in), (OUTPUT_PREFIX, names_out)):
        for name in names:
            columns[prefix + name] = values(prefix, name)
    secret = key() if hashed else b""
    for name in hashed:
        column = INPUT_PREFIX + name
        if column in columns:
            columns[column] = [None if v is None else _keyed_hash(secret, v)
                               for v in columns[column]]
    arrays = {name: _array(values) for name, values in columns.items()}
    arrays["row"] = pa.array(columns["row"], pa.int32())
    arrays["version"] = pa.array(columns["version"], pa.int32())
    micros = np.round(np.asarray(columns["time"], dtype=np.float64) * 1e6).astype(np.int64)
    arrays["time"] = pa.array(micros, pa.timestamp("us", tz="UTC"))
    return pa.table(arrays)


def _array(values: list[Any]) -> pa.Array:
    """A column as Arrow infers it (NaN as missing); a column mixing types (a bad model
    output) or holding bytes is written as text rather than refused."""
    try:  # the common case, in Arrow's C++: numbers, text, numpy scalars
        array = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    else:
        if not pa.types.is_binary(array.type):
            return array
    cleaned = [None if isinstance(v, float) and math.isnan(v) else
               v.item() if isinstance(v, np.generic) else
               f"<{len(v)} bytes>" if isinstance(v, (bytes, bytearray)) else v for v in values]
    try:
        return pa.array(cleaned)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in cleaned], pa.string())


def _keyed_hash(key: bytes, value: Any) -> str:
    return hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()[:24]


def _checked_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"deployment name {name!r} cannot name a log folder")
    return name


def prune(root: Path, *, retention_days: int, today: date | None = None) -> list[Path]:
    """Remove the days older than ``retention_days`` from every deployment's log; returns
    the folders removed."""
    if not root.is_dir():
        return []
    oldest = (today or datetime.now(UTC).date()) - timedelta(days=retention_days)
    removed = []
    for deployment in root.iterdir():
        if not deployment.is_dir():
            continue
        for day in deployment.iterdir():
            if day.is_dir() and _DAY.match(day.name) and date.fromisoformat(day.name) < oldest:
                shutil.rmtree(day)
                removed.append(day)
    return removed


def _merged(files: list[Path]) -> Path:
    """One file holding the rows of ``files`` (written first, under the first one's time so
    it sorts where they did), then ``files`` deleted: a reader between the two sees some
    rows twice, and drops them; one that listed a file now gone reads again."""
    tables = [pq.read_table(path) for path in files]
    merged = pa.concat_tables(tables, promote_options="permissive")
    first = files[0]
    name = f"{first.name.rsplit('-', 1)[0]}-{secrets.token_hex(6)}.parquet"
    partial = first.parent / f".{name}.partial"
    try:
        pq.write_table(merged, partial, compression="zstd")
        os.replace(partial, first.parent / name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    for path in files:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return first.parent / name


def read_predictions(root: Path, deployment: str, *, since: datetime | None = None,
                     until: datetime | None = None,
                     columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The logged rows of ``deployment`` (its URL name) from ``since`` up to ``until`` (UTC),
    oldest first; an empty frame when nothing was logged. Files written by different model
    versions may hold different columns: a column missing from a file reads as missing."""
    folder = root / _checked_name(deployment)
    for attempt in range(3):
        files = sorted(p for p in folder.glob("*/part-*.parquet")
                       if _day_in(p.parent.name, since, until)) if folder.is_dir() else []
        try:
            table = _read_files(files, columns)
            break
        except FileNotFoundError:  # merged away while listed: list again
            if attempt == 2:
                raise
    if table is None:
        return pd.DataFrame(columns=list(columns) if columns is not None else
                            ["request_id", "row", "time", "model", "version", "latency_ms"])
    frame = table.to_pandas()
    if "request_id" in frame and "row" in frame:  # a merge landing while listed: seen twice
        frame = frame.drop_duplicates(["request_id", "row"])
    if "time" in frame:
        if since is not None:
            frame = frame[frame["time"] >= pd.Timestamp(since)]
        if until is not None:
            frame = frame[frame["time"] < pd.Timestamp(until)]
        frame = frame.sort_values(["time", "row"] if "row" in frame else ["time"],
                                  kind="stable")
    return frame.reset_index(drop=True)


def _read_files(files: list[Path], columns: Sequence[str] | None) -> pa.Table | None:
    """The files' rows as one table (a column a file lacks reads as missing); None: no file."""
    if not files:
        return None
    tables = []
    for path in files:
        table = pq.read_table(path)
        if columns is not None:
            table = table.select([c for c in columns if c in table.column_names])
        tables.append(table)
    return pa.concat_tables(tables, promote_options="permissive")


def _day_in(name: str, since: datetime | None, until: datetime | None) -> bool:
    if not _DAY.match(name):
        return False
    day = date.fromisoformat(name)
    return ((since is None or day >= since.astimezone(UTC).date())
            and (until is None or day <= until.astimezone(UTC).date()))
