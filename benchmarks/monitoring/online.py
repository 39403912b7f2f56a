"""Learning from every labelled row on a real drifting stream (issue 12, item 6).

Prequential (test-then-train) accuracy on ../shared/data/elec2, one batch a day (48 rows),
scoring the 90 % of the stream after the first 10 %:

- static: LightGBM (100 rounds) trained on the first 10 %, never changed;
- online_linear: the catalog's SGD model trained on the first 10 %, then continued on each
  day's rows (``trainforge.algorithms.online.updated``, what `trainforge update` runs);
- LightGBM continued: the same static model, then ROUNDS more trees on each day's rows
  (``updated(..., rounds=ROUNDS)``);
- LightGBM retrained weekly from scratch on the last 4 weeks (the issue's reference method).

In-process, no HTTP: what is measured is the learning, not the serving. Run:

    PYTHONPATH=src python benchmarks/monitoring/online.py [--rounds 5 20] [--days N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from trainforge.algorithms import boosting
from trainforge.algorithms.online import build_online, updated
from trainforge.data.task import Task, TaskKind

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "elec2" / "elec.csv.gz"
COLUMNS = ["period", "nswprice", "nswdemand", "vicprice", "vicdemand", "transfer", "label"]
DAY = 48
TASK = Task("label", TaskKind.BINARY, "accuracy", ("0", "1"))


def _lightgbm() -> boosting.LightGBMModel:
    return boosting.LightGBMModel(n_estimators=100, n_threads=1, seed=0)


def _prequential(model: object, X: np.ndarray, y: np.ndarray, start: int, *,
                 learn: object) -> tuple[float, float]:
    """Accuracy predicting each day from ``start`` before learning it; and seconds taken."""
    began = time.process_time()
    right = 0
    for day in range(start, len(X), DAY):
        rows = slice(day, min(day + DAY, len(X)))
        right += int((model.predict(X[rows]) == y[rows]).sum())  # type: ignore[attr-defined]
        model = learn(model, day, rows)  # type: ignore[operator]
    return right / (len(X) - start), time.process_time() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--days", type=int, default=None, help="only the first N days")
    args = parser.parse_args()
    frame = pd.read_csv(DATA, header=None, names=COLUMNS)
    if args.days:
        frame = frame.iloc[:args.days * DAY]
    X = frame[COLUMNS[:-1]].to_numpy(dtype="float64")
    y = frame["label"].to_numpy(dtype="int64")
    start = (len(X) // 10 // DAY) * DAY  # the first 10 %, in whole days
    first = slice(0, start)
    results: list[tuple[str, float, float]] = []

    static = _lightgbm().fit(X[first], y[first])
    results.append(("static LightGBM (first 10 %)",
                    *_prequential(static, X, y, start, learn=lambda m, d, r: m)))

    online = build_online({}, TASK, 0).fit(X[first], y[first])
    results.append(("online_linear, updated daily",
                    *_prequential(online, X, y, start,
                                  learn=lambda m, d, r: updated(m, X[r], y[r], rounds=0))))

    for rounds in args.rounds:
        results.append((f"LightGBM continued daily (+{rounds} trees)",
                        *_prequential(static, X, y, start, learn=lambda m, d, r, n=rounds:
                                      updated(m, X[r], y[r], rounds=n))))

    def weekly(model: object, day: int, rows: slice) -> object:
        end = rows.stop
        if (end - start) % (7 * DAY):
            return model
        window = slice(max(0, end - 28 * DAY), end)
        return _lightgbm().fit(X[window], y[window])

    results.append(("LightGBM retrained weekly, last 4 weeks",
                    *_prequential(static, X, y, start, learn=weekly)))

    print(f"elec2: {len(X):,} rows, scored {len(X) - start:,} (after the first {start:,}), "
          f"one batch = {DAY} rows (a day)")
    print(f"{'method':44} {'accuracy':>9} {'cpu s':>8}")
    for name, accuracy, cpu_s in results:
        print(f"{name:44} {accuracy:9.4f} {cpu_s:8.1f}")


if __name__ == "__main__":
    main()
