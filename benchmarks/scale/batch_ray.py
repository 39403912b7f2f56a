"""Batch prediction on Ray Data (``predict --backend ray``) from S3 vs the local path.

    python benchmarks/scale/batch_ray.py                     # 1M, 3M and 10M rows
    python benchmarks/scale/batch_ray.py --sizes 1 3         # millions of rows

What it does, all on this machine: starts a SeaweedFS S3 server and a Ray cluster of two
nodes of one CPU each (the tests' helpers), trains a small model (linear, one trial, on
examples/credit_g.csv, 20 columns), writes credit_g's rows drawn at random (seeded) as
Parquet shards of 500,000 rows, uploads them to the bucket, once per size, and then:

- ray: ``run_prediction(..., backend="ray")`` from ``s3://…/in-NM/`` to ``s3://…/out-NM/``;
  wall time, rows/s, and the peak RSS of each Ray worker process sampled every 0.2 s (the
  prediction actors, one per node; the processes that ran the read tasks) and of this one
  (the driver, which writes the output shards);
- local: ``predict_file`` on the same shards from local disk, one after another, in this
  process (the local path reads no S3): rows/s and this process's peak RSS over the run.

Prints one JSON line per (backend, size). The figures are in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd
import psutil
import pyarrow.fs
import pytest
import ray

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests._paths import EXAMPLES
from tests.server._ray import ray_node
from tests.store.seaweedfs import point_aws_at, seaweedfs_server

import trainforge as tf
from trainforge.jobs.predict import run_prediction
from trainforge.serving.batch import predict_file
from trainforge.store.s3_artifacts import arrow_filesystem
from trainforge.workspace import Workspace

SHARD_ROWS = 500_000
MB = 2**20


class PeakMemory:
    """The highest memory of each process of interest, sampled on a thread every ``every_s``:
    its RSS, and its private part (RSS less shared pages: a Ray worker maps the blocks it
    reads from the node's object store, shared memory that RSS counts in every process that
    touched it)."""

    def __init__(self, *, every_s: float = 0.2) -> None:
        self.every_s = every_s
        self.peaks: dict[int, tuple[str, int, int]] = {}  # pid: (what it ran, RSS, private)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        own = psutil.Process()
        while not self._stop.wait(self.every_s):
            self._note(own.pid, "driver", own.memory_info())
            for process in psutil.process_iter(["pid", "cmdline", "memory_info"]):
                line = " ".join(process.info["cmdline"] or [])
                if line.startswith("ray::") and process.info["memory_info"] is not None:
                    self._note(process.info["pid"], line.split()[0],
                               process.info["memory_info"])

    def _note(self, pid: int, what: str, memory: Any) -> None:
        seen, rss, private = self.peaks.get(pid, (what, 0, 0))
        # a worker process runs several things in turn: name it by the actor, if it was one
        named = what if "MapWorker" in what or "IDLE" in seen else seen
        self.peaks[pid] = (named, max(rss, memory.rss),
                           max(private, memory.rss - memory.shared))

    def summary(self) -> dict[str, list[int]]:
        def mb(values: list[int]) -> list[int]:
            return [round(v / MB) for v in sorted(values)]

        actors = [(rss, private) for what, rss, private in self.peaks.values()
                  if "MapWorker" in what]
        others = [(rss, private) for what, rss, private in self.peaks.values()
                  if what != "driver" and "MapWorker" not in what]
        driver = [(rss, private) for what, rss, private in self.peaks.values()
                  if what == "driver"]
        return {"actor_rss_mb": mb([a[0] for a in actors]),
                "actor_private_mb": mb([a[1] for a in actors]),
                "other_workers_rss_mb_max": mb([max((o[0] for o in others), default=0)]),
                "other_workers_private_mb_max": mb([max((o[1] for o in others), default=0)]),
                "driver_rss_mb": mb([d[0] for d in driver]),
                "driver_private_mb": mb([d[1] for d in driver])}


def write_shards(folder: Path, n_shards: int) -> list[Path]:
    frame = pd.read_csv(EXAMPLES / "credit_g.csv").drop(columns=["class"])
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n_shards):
        rows = frame.iloc[rng.integers(0, len(frame), SHARD_ROWS)].reset_index(drop=True)
        path = folder / f"shard-{i:03d}.parquet"
        rows.to_parquet(path, index=False)
        paths.append(path)
    return paths


def upload(paths: list[Path], url: str) -> None:
    filesystem = arrow_filesystem()
    for path in paths:
        pyarrow.fs.copy_files(str(path), f"{url.removeprefix('s3://')}/{path.name}",
                              source_filesystem=pyarrow.fs.LocalFileSystem(),
                              destination_filesystem=filesystem)


def on_ray(workspace: Workspace, source: str, output: str, millions: int) -> dict[str, object]:
    with PeakMemory() as memory:
        started = time.perf_counter()
        outcome = run_prediction("credit", source, output, workspace=workspace, backend="ray")
        seconds = time.perf_counter() - started
    assert outcome.batch.n_rows == millions * 1_000_000, outcome.batch.n_rows
    return {"backend": "ray (2 nodes x 1 CPU, from S3)", "rows": outcome.batch.n_rows,
            "seconds": round(seconds, 1), "rows_per_s": round(outcome.batch.n_rows / seconds),
            **memory.summary()}


def on_local(workspace: Workspace, paths: list[Path], folder: Path) -> dict[str, object]:
    loaded = workspace.registry.load("credit")
    n_rows = 0
    with PeakMemory() as memory:
        started = time.perf_counter()
        for path in paths:
            n_rows += predict_file(loaded, path, folder / f"{path.stem}-out.parquet").n_rows
        seconds = time.perf_counter() - started
    return {"backend": "local (this process, from local disk)", "rows": n_rows,
            "seconds": round(seconds, 1), "rows_per_s": round(n_rows / seconds),
            "driver_rss_mb": memory.summary()["driver_rss_mb"],
            "driver_private_mb": memory.summary()["driver_private_mb"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 3, 10],
                        help="millions of rows")
    parser.add_argument("--skip-local-above", type=int, default=10,
                        help="the local path only up to this many millions")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tfbench-batch-ray-"))
    workspace = Workspace(folder / "home")
    tf.train(EXAMPLES / "credit_g.csv", target="class", algorithm="linear", trials=1,
             name="credit", workspace=workspace)
    shards = write_shards(folder / "shards", max(options.sizes) * 1_000_000 // SHARD_ROWS)
    with (pytest.MonkeyPatch.context() as patch, seaweedfs_server() as s3,
          ray_node() as (head, _), ray_node(head=head)):
        patch.setenv("RAY_AUTH_MODE", "disabled")
        prefix = point_aws_at(s3, patch, folder)
        ray.init(address=head, log_to_driver=False)
        while ray.cluster_resources().get("CPU") != 2:
            time.sleep(0.5)
        for millions in options.sizes:
            chosen = shards[:millions * 1_000_000 // SHARD_ROWS]
            upload(chosen, f"{prefix}/in-{millions}m")
            print(json.dumps({"millions": millions, **on_ray(
                workspace, f"{prefix}/in-{millions}m", f"{prefix}/out-{millions}m",
                millions)}), flush=True)
            if millions <= options.skip_local_above:
                print(json.dumps({"millions": millions, **on_local(
                    workspace, chosen, folder / "local-out")}), flush=True)
        ray.shutdown()


if __name__ == "__main__":
    main()
