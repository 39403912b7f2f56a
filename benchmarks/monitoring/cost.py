"""What measuring cost costs: the request path, a usage flush, and a job's meter.

    PYTHONPATH=src python benchmarks/monitoring/cost.py

- ``ServingMetrics.record`` per request (the only work on the request path; this slice adds
  nothing to it, the figure is for comparison with the original code);
- ``ServingMetrics.totals`` and one ``UsageFlusher.flush`` (SQLite in a temporary folder) for
  1, 10 and 100 deployments: the work the flusher thread does every 30 s, off the request path;
- ``Meter()`` + ``read()``: what a worker adds to each job.
Medians of repeated runs; everything is local, bounded and stops by itself.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def median_us(work: Callable[[], object], *, repeat: int, number: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(number):
            work()
        times.append((time.perf_counter() - started) / number * 1e6)
    return statistics.median(times)


def main() -> None:
    from trainforge.serving.metrics import ServingMetrics

    route = "/v1/models/{name}/predict"
    metrics = ServingMetrics()
    record = median_us(lambda: metrics.record("credit:1", route, 200, 0.001, n_predictions=1,
                                              cpu_s=0.0001), repeat=7, number=20_000)
    print(f"ServingMetrics.record, one request: {record:.2f} µs")
    try:
        from trainforge.serving.usage import UsageFlusher
        from trainforge.store.resources import Meter
        from trainforge.workspace import Workspace
    except ImportError:  # the original code: nothing else to measure
        return
    for n in (1, 10, 100):
        metrics = ServingMetrics()
        for i in range(n):
            metrics.record(f"model{i}:1", route, 200, 0.001, n_predictions=1, cpu_s=0.001)
        served = {f"model{i}": f"model{i}:1" for i in range(n)}
        totals = median_us(metrics.totals, repeat=7, number=200)
        with tempfile.TemporaryDirectory() as home:
            workspace = Workspace(Path(home))
            flusher = UsageFlusher(workspace, metrics, served=lambda s=served: s)
            flusher.flush()  # the first flush inserts; the later ones (measured) update

            def again(m: ServingMetrics = metrics, f: UsageFlusher = flusher) -> None:
                m.record("model0:1", route, 200, 0.001, n_predictions=1)
                f.flush()

            flush = median_us(again, repeat=5, number=10)
            workspace.close()
        print(f"{n:>3} deployments: totals {totals:8.1f} µs, flush (SQLite) "
              f"{flush / 1000:7.2f} ms")
    meter = median_us(lambda: Meter().read(), repeat=7, number=200)
    print(f"a job's Meter() + read(): {meter:.1f} µs")


if __name__ == "__main__":
    main()
