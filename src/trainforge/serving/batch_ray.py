"""Batch prediction on Ray Data: shards in, shards of predictions and a manifest out.

    result = predict_shards(workspace.registry, "churn:3", "s3://data/2024/", "s3://out/2024/")

Ray Data reads the input's shards (``serving.shards``: a Parquet or CSV file, a folder, a glob,
local or ``s3://``) in blocks and hands them to a pool of actors, at most one per CPU of the
cluster, each of which loads the model once (``Registry.load``: the package fetched from the
artifact store where the node lacks it, and its hashes checked) and predicts batch after
batch with the local path's own ``predictions_frame``: the same columns, unscorable rows left
empty and counted. Memory stays bounded whatever the input's size: Ray Data streams, holding a
few blocks per actor, and this process writes each batch as it arrives.

Row order: output shard i (``part-00000.parquet``, …; CSV when the input is CSV) holds the
predictions of input shard i, the inputs sorted by path, one row per input row in that shard's
order; ``manifest.json`` pairs each output shard with its input and says how many rows each
has (and its sha256). It is written last: an output without it is not complete.

Only ``--backend ray`` imports this module: the local path never imports Ray.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv
import ray
import ray.data
import ray.exceptions

from trainforge.errors import InvalidRequest, TrainforgeError, UnreadableData
from trainforge.registry.registry import Registry
from trainforge.serving.batch import UNSCORED_SHOWN, _predictions_frame, _Writer
from trainforge.serving.shards import Location, Shard, ShardPlan, put_file, write_manifest
from trainforge.store.artifacts import sha256_of

BATCH_ROWS = 50_000  # rows an actor predicts at a time, as the local path's chunk
_SOURCE = "__trainforge_shard"  # which input shard a row came from (Ray Data's path column)
_UNSCORED = "__trainforge_unscored"  # whether the model could not score the row


@dataclass(frozen=True)
class OutputShard:
    """One shard written: which input it holds the predictions of, and what it holds."""

    name: str
    input: str
    n_rows: int
    n_unscored: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "input": self.input, "rows": self.n_rows,
                "unscored": self.n_unscored, "sha256": self.sha256}


@dataclass(frozen=True)
class ShardedResult:
    """What ``predict_shards`` wrote (its manifest, as an object)."""

    n_rows: int
    seconds: float
    output: str  # the folder or s3:// prefix
    shards: tuple[OutputShard, ...]
    n_unscored: int = 0
    # the first UNSCORED_SHOWN rows the model could not score, as SHARD:ROW (1-based)
    unscored_rows: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()  # as BatchResult's: a table has no files to skip


class ShardPredictor:
    """A Ray Data actor: the model, loaded once, predicting one batch after another."""

    def __init__(self, registry: Registry, ref: str) -> None:
        self.loaded = registry.load(ref)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        sources = batch.pop(_SOURCE).to_numpy()
        rows = batch.reset_index(drop=True)
        try:
            predicted, blank = _predictions_frame(self.loaded, rows)
        except InvalidRequest as error:
            shown = ", ".join(sorted(set(map(str, sources)))[:3])
            raise UnreadableData(shown, f"rows cannot be predicted ({error})",
                                 f"fix those rows for model {self.loaded.ref}") from None
        predicted[_SOURCE] = sources
        predicted[_UNSCORED] = blank
        return predicted


def predict_shards(plan: ShardPlan, registry: Registry, *, batch_rows: int = BATCH_ROWS,
                   workers: int | None = None) -> ShardedResult:
    """Predict every row of ``plan``'s shards (``shards.plan_shards``: checked already) into
    shards and a manifest at its target. Ray must be joined already. ``workers``: actors at
    most (default: one per CPU of the cluster).

    Example::

        plan = plan_shards(workspace.registry, "churn@production", "s3://in/", "s3://out/")
        result = predict_shards(plan, workspace.registry)
        print(f"{result.n_rows} rows in {len(result.shards)} shards, {result.seconds:.1f} s")
    """
    if ray.get_runtime_context().get_task_id() is not None:
        # inside a Ray task (the server's job on the Ray backend), which holds its CPU as long
        # as it runs: on a cluster whose other CPUs the actors take, no file could ever be
        # listed or read. Blocked in ray.get, a task lends its CPU back, so the pipeline is
        # driven from a task of its own that reserves none.
        result: ShardedResult = ray.get(_predict_in_a_task.remote(plan, registry, batch_rows,
                                                                  workers))
        return result
    return _predict(plan, registry, batch_rows=batch_rows, workers=workers)


@ray.remote(num_cpus=0, max_retries=0)
def _predict_in_a_task(plan: ShardPlan, registry: Registry, batch_rows: int,
                       workers: int | None) -> ShardedResult:
    return _predict(plan, registry, batch_rows=batch_rows, workers=workers)


def _predict(plan: ShardPlan, registry: Registry, *, batch_rows: int,
             workers: int | None) -> ShardedResult:
    started = time.perf_counter()
    shards, target, ref = plan.shards, plan.target, plan.model
    dataset = _read(shards, plan.inputs, plan.features).map_batches(
        ShardPredictor, fn_constructor_kwargs={"registry": registry, "ref": ref},
        batch_format="pandas", batch_size=batch_rows, num_cpus=1,
        compute=ray.data.ActorPoolStrategy(
            min_size=1, max_size=workers or _cluster_cpus()))
    with tempfile.TemporaryDirectory(prefix="trainforge-shards-") as scratch:
        written = _ShardWriter(shards, target, Path(scratch))
        try:
            for batch in _batches(dataset, plan.inputs.url):
                written.add(batch)
            written.finish()
        finally:
            written.close()
    n_rows = sum(shard.n_rows for shard in written.done)
    n_unscored = sum(shard.n_unscored for shard in written.done)
    result = ShardedResult(n_rows=n_rows, seconds=time.perf_counter() - started,
                           output=target.url, shards=tuple(written.done),
                           n_unscored=n_unscored, unscored_rows=tuple(written.unscored_rows))
    write_manifest(target, {
        "model": ref, "input": plan.inputs.url, "output": target.url, "rows_in": n_rows,
        "rows_out": n_rows, "unscored": n_unscored, "seconds": round(result.seconds, 3),
        "columns": written.columns,
        "order": "output shard i holds the predictions of input shard i (inputs sorted by "
                 "path), one row per input row, in order",
        "shards": [shard.to_dict() for shard in written.done]})
    return result


def _cluster_cpus() -> int:
    return max(1, int(ray.cluster_resources().get("CPU", 1)))  # type: ignore[no-untyped-call]


def _read(shards: Sequence[Shard], inputs: Location,
          features: Sequence[dict[str, str]]) -> ray.data.Dataset:
    context = ray.data.DataContext.get_current()
    # one order from file to output: blocks come back in the order the shards were read
    context.execution_options.preserve_order = True
    # the CLI and the job log say what was done; Ray Data's progress lines would bury it
    context.enable_progress_bars = context.print_on_execution_start = False
    paths = [shard.path for shard in shards]
    if shards[0].format == "parquet":
        dataset = ray.data.read_parquet(paths, filesystem=inputs.filesystem,
                                        include_paths=True)
    else:
        # a column's type is the model's, not a guess from each block's first rows (a code
        # column of digits in one block and letters in the next would not read)
        types = {feature["name"]: pa.float64() if feature["dtype"] == "number" else pa.string()
                 for feature in features if feature["dtype"] in ("number", "string")}
        dataset = ray.data.read_csv(paths, filesystem=inputs.filesystem, include_paths=True,
                                    convert_options=pyarrow.csv.ConvertOptions(
                                        column_types=types))
    renamed: ray.data.Dataset = dataset.rename_columns({"path": _SOURCE})
    return renamed


def _batches(dataset: ray.data.Dataset, source: str) -> Iterator[pd.DataFrame]:
    """The predicted batches in input order. An error an actor raised on purpose (a row the
    model refuses) comes out as itself, not wrapped in Ray's; a shard Ray Data could not
    read (a value that is not a number past the rows the check read) as UnreadableData."""
    try:
        yield from dataset.iter_batches(batch_format="pandas", batch_size=None)
    except ray.exceptions.RayError as error:
        cause = _trainforge_cause(error)
        if cause is not None:
            raise cause from None
        failed = getattr(error, "cause", None)
        if not isinstance(failed, (ValueError, OSError)):
            raise
        raise UnreadableData(source, _first_sentences(failed), "fix or remove that shard, "
                             "then predict again into a new output") from None


def _first_sentences(error: BaseException) -> str:
    """Ray Data's reason (its first sentence names the file), and the reader's own."""
    inner = error
    while (inner.__cause__ or inner.__context__) is not None:
        inner = inner.__cause__ or inner.__context__  # type: ignore[assignment]
    said = str(error).split(". ")[0]
    return said if inner is error else f"{said} ({str(inner).splitlines()[0]})"


def _trainforge_cause(error: BaseException) -> TrainforgeError | None:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, TrainforgeError):
            return seen
        cause = getattr(seen, "cause", None)
        seen = cause if isinstance(cause, BaseException) else (seen.__cause__
                                                                or seen.__context__)
    return None


class _ShardWriter:
    """Writes the predicted batches, which come in input order, into one output shard per
    input shard: each into a local file first, hashed, then copied to the output."""

    def __init__(self, shards: Sequence[Shard], target: Location, scratch: Path) -> None:
        self.shards, self.target, self.scratch = shards, target, scratch
        self.index = {shard.path: i for i, shard in enumerate(shards)}
        self.suffix = ".csv" if shards[0].format == "csv" else ".parquet"
        self.done: list[OutputShard] = []
        self.unscored_rows: list[str] = []
        self.columns: list[str] = []
        self._writer: _Writer | None = None
        self._rows = self._unscored = 0
        self._empty: pd.DataFrame | None = None  # the columns, for a shard with no rows

    def add(self, batch: pd.DataFrame) -> None:
        sources = batch[_SOURCE].to_numpy()
        cuts = np.flatnonzero(sources[1:] != sources[:-1]) + 1
        for part in np.split(np.arange(len(batch)), cuts):
            if len(part):
                self._add_run(batch.iloc[part], str(sources[part[0]]))

    def _add_run(self, rows: pd.DataFrame, source: str) -> None:
        if source not in self.index:
            raise RuntimeError(f"Ray Data returned rows of {source}, which is not an input")
        position = self.index[source]
        if position < len(self.done):  # the order the output promises would be broken
            raise RuntimeError(f"rows of {source} came back after those of a later shard")
        if self._empty is None:
            self._empty = rows.drop(columns=[_SOURCE, _UNSCORED]).iloc[:0]
            self.columns = list(self._empty.columns)
        if self._writer is not None and position > len(self.done):
            self._close_shard()  # the rows of a later shard: the open one is complete
        while len(self.done) < position:  # shards with no rows between the last and this
            self._open()
            self._close_shard()
        if self._writer is None:
            self._open()
        blank = np.flatnonzero(rows[_UNSCORED].to_numpy(dtype=bool))
        name = self._name(position)
        self.unscored_rows += [f"{name}:{self._rows + 1 + int(r)}" for r in
                               blank[:max(0, UNSCORED_SHOWN - len(self.unscored_rows))]]
        assert self._writer is not None
        self._writer.write(rows.drop(columns=[_SOURCE, _UNSCORED]))
        self._rows += len(rows)
        self._unscored += len(blank)
        if position + 1 < len(self.shards) and self.shards[position].n_rows == self._rows:
            self._close_shard()  # complete: upload it while the next one is predicted

    def finish(self) -> None:
        """Close the last shard, and write those left that had no rows."""
        if self._writer is not None:
            self._close_shard()
        while len(self.done) < len(self.shards):
            self._open()
            self._close_shard()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def _name(self, position: int) -> str:
        return f"part-{position:05d}{self.suffix}"

    def _open(self) -> None:
        local = self.scratch / self._name(len(self.done))
        self._writer = _Writer(local, parquet=self.suffix == ".parquet")
        self._rows = self._unscored = 0

    def _close_shard(self) -> None:
        assert self._writer is not None
        name = self._name(len(self.done))
        local = self.scratch / name
        if self._rows == 0 and self._empty is not None:
            self._writer.write(self._empty)  # the columns, though no row came
        self._writer.close()
        self._writer = None
        local.touch()  # a shard with no rows when no shard had any: an empty file
        shard = self.shards[len(self.done)]
        if shard.n_rows is not None and shard.n_rows != self._rows:
            raise UnreadableData(shard.url, f"its footer says {shard.n_rows:,} rows but "
                                 f"{self._rows:,} were read", "was it changed while it was "
                                 "read? predict it again")
        put_file(local, self.target, name)
        self.done.append(OutputShard(name=name, input=shard.url, n_rows=self._rows,
                                     n_unscored=self._unscored, sha256=sha256_of(local)))
        local.unlink()
