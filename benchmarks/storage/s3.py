"""Model packages on S3 vs the local folder: publish (register) and load times for a trained
model, the start time of the SeaweedFS server the tests use, and a large file's round trip.

    PYTHONPATH=src python benchmarks/storage/s3.py

A model is trained once on credit_g (linear, 1 trial; not timed). Then, each a median of 5:
``registry.register`` into a local workspace and into one on S3 (SeaweedFS on 127.0.0.1:
every file, then the manifest); ``registry.load`` locally, from S3 into an empty cache (cold:
download and hash check), and from the cache (warm). SeaweedFS is started 3 times (launch to
first object written). Finally a 256 MiB file goes up and comes back through the store, with
the process's peak memory growth (multipart, streamed: it should stay far below the file).
On code without TRAINFORGE_ARTIFACTS (the original), only the local figures print.
"""

from __future__ import annotations

import inspect
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the tests' SeaweedFS launcher

import trainforge as tf  # noqa: E402
from trainforge.workspace import Workspace  # noqa: E402

CREDIT = ROOT / "examples" / "credit_g.csv"
REPEATS = 5


def _median_s(call: Callable[[int], object]) -> float:
    times = []
    for attempt in range(REPEATS):
        started = time.perf_counter()
        call(attempt)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _package_bytes(ws: Workspace) -> int:
    return sum(p.stat().st_size for p in (ws.artifacts / "models" / "credit" / "1").iterdir())


def _local(scratch: Path) -> tuple[object, Workspace]:
    trainer = Workspace(scratch / "trainer")
    tf.train(CREDIT, target="class", name="credit", trials=1, algorithm="linear",
             workspace=trainer)
    model = trainer.registry.load("credit").model
    ws = Workspace(scratch / "local")
    publish = _median_s(lambda _: ws.registry.register(model, name="credit", metrics={},
                                                          lineage={}))
    load = _median_s(lambda _: ws.registry.load("credit:1"))
    print(f"package: {_package_bytes(ws) / 1024:.0f} KiB")
    print(f"local  publish (register) {publish * 1000:7.1f} ms   load {load * 1000:7.1f} ms")
    return model, ws


def _s3(scratch: Path, model: object) -> None:
    from tests.store.seaweedfs import point_aws_at, seaweedfs_server

    from trainforge.store.artifacts import open_artifact_store

    starts = []
    for _ in range(3):
        with seaweedfs_server() as server:
            starts.append(server.start_s)
    print(f"SeaweedFS start: median {statistics.median(starts):.2f} s "
          f"({', '.join(f'{s:.2f}' for s in starts)})")
    with seaweedfs_server() as server:
        class Env:  # pytest's monkeypatch, for a script
            def setenv(self, name: str, value: str) -> None:
                os.environ[name] = value

            def delenv(self, name: str, raising: bool = True) -> None:
                os.environ.pop(name, None)

        url = point_aws_at(server, Env(), scratch)  # type: ignore[arg-type]
        ws = Workspace(scratch / "s3", artifacts_url=url)
        publish = _median_s(lambda _: ws.registry.register(model, name="credit", metrics={},
                                                              lineage={}))
        readers = [Workspace(scratch / f"reader-{i}", database_url=ws.database_url,
                             artifacts_url=url) for i in range(REPEATS)]
        cold = _median_s(lambda i: readers[i].registry.load("credit:1"))
        warm = _median_s(lambda i: readers[i].registry.load("credit:1"))
        print(f"S3     publish (register) {publish * 1000:7.1f} ms   load cold "
              f"{cold * 1000:7.1f} ms   load warm (cache) {warm * 1000:7.1f} ms")
        store = open_artifact_store(f"s3://{server.bucket}/{uuid.uuid4().hex}")
        assert store is not None
        big = scratch / "big.bin"
        with open(big, "wb") as handle:
            for _ in range(256):
                handle.write(os.urandom(2**20))
        from trainforge.store.artifacts import sha256_of

        digest = sha256_of(big)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        store.put(big, "uploads/big.bin")
        up = time.perf_counter() - started
        started = time.perf_counter()
        store.get("uploads/big.bin", scratch / "back.bin", sha256=digest)
        down = time.perf_counter() - started
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        print(f"256 MiB file: put {up:.2f} s ({256 / up:.0f} MiB/s), get+check {down:.2f} s "
              f"({256 / down:.0f} MiB/s), peak memory growth {grown:.0f} MiB")


def main() -> None:
    warnings.filterwarnings("ignore")
    scratch = Path(tempfile.mkdtemp(prefix="bench-s3-"))
    try:
        model, _ = _local(scratch)
        if "artifacts_url" in inspect.signature(Workspace).parameters:
            _s3(scratch, model)
        else:
            print("this trainforge has no TRAINFORGE_ARTIFACTS: S3 figures skipped")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
