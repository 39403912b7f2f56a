"""Feedback: how long a batch of labels takes against a prediction log of a given size.

    PYTHONPATH=src python benchmarks/monitoring/feedback.py [--rows 200000] [--files 200]

Logs ROWS predictions (one row each, 20 inputs) in FILES Parquet files, then times:
the request-id lookup as ``read_predictions(columns=...)`` plus a pandas filter (the plain
way, on the log as main has it), the same with ``find_requests`` (Arrow's filter), and a whole
``record_feedback`` of 10,000 labels (lookup + one SQLite transaction). Medians of 3.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from trainforge.data.task_kind import TaskKind
from trainforge.monitoring.feedback import LabelSpec, record_feedback
from trainforge.monitoring.logged_requests import KEY_COLUMNS, find_requests
from trainforge.monitoring.prediction_log import PredictionLog, new_request_id, read_predictions
from trainforge.store.deployments import save_deployment
from trainforge.workspace import Workspace


def _median_s(work: Callable[[], object], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--files", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        ws = Workspace(Path(folder) / "home")
        log = PredictionLog(ws.prediction_log, max_queued_rows=10**7)
        ids = []
        for file in range(args.files):
            for _ in range(args.rows // args.files):
                ids.append(new_request_id())
                log.record(deployment="churn", model="churn", version=1, request_id=ids[-1],
                           inputs={f"x{i}": [float(i)] for i in range(20)},
                           outputs={"prediction": ["yes"]}, n_rows=1, latency_s=0.001)
            log.flush()
        wanted = set(ids[:: max(1, len(ids) // 10_000)][:10_000])
        plain = _median_s(lambda: (lambda f: f[f["request_id"].isin(wanted)])(
            read_predictions(ws.prediction_log, "churn", columns=list(KEY_COLUMNS))))
        arrow = _median_s(lambda: find_requests(ws.prediction_log, "churn", wanted))
        deployment = save_deployment(ws, name="churn", model_name="churn", model_version=1,
                                     requested="churn", deployed_by="bench")
        labels = [{"request_id": r, "label": "yes"} for r in wanted]
        spec = LabelSpec(TaskKind.BINARY, ("no", "yes"))
        first = time.perf_counter()
        record_feedback(ws, ws.prediction_log, deployment=deployment, labels=labels, spec=spec,
                        submitted_by="bench")
        recorded = time.perf_counter() - first
        again = _median_s(lambda: record_feedback(ws, ws.prediction_log, deployment=deployment,
                                                  labels=labels, spec=spec,
                                                  submitted_by="bench"))
        print(f"log: {len(ids):,} rows in {args.files} files; batch: {len(labels):,} labels")
        print(f"lookup, read_predictions + pandas filter: {plain * 1000:8.0f} ms")
        print(f"lookup, find_requests (Arrow filter):     {arrow * 1000:8.0f} ms")
        print(f"record_feedback, 10,000 new labels:       {recorded * 1000:8.0f} ms")
        print(f"record_feedback, the same again (unchanged): {again * 1000:5.0f} ms")


if __name__ == "__main__":
    main()
