"""Predict time of the boosting wrappers on adult: 1 row and 10,000 rows, through the estimator
(what TabularModel calls), so the cost of scikit-learn's input checks shows.

    PYTHONPATH=src python benchmarks/architecture/estimators.py

Each wrapper is fitted on adult's tree-style matrix (200 rounds, 2 threads, seed 0); then
``predict_proba`` is timed: 1 row (median of 7 runs of 300 calls), 10,000 rows (median of 15).
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from trainforge.algorithms.boosting import CatBoostModel, LightGBMModel, XGBoostModel
from trainforge.data.prepare import make_preprocessor
from trainforge.data.read import read_table
from trainforge.data.schema import infer_schema

ADULT = Path(__file__).resolve().parents[2] / "examples" / "adult.csv"


def _adult() -> tuple[np.ndarray, np.ndarray]:
    frame = read_table(ADULT).frame
    target = "income"
    features = [c for c in frame.columns if c != target]
    schema = infer_schema(frame)
    X = make_preprocessor(schema, features, style="tree").fit_transform(frame[features])
    labels = frame[target].astype(str).str.strip().str.rstrip(".")
    return np.asarray(X, dtype=np.float64), (labels == labels.unique()[0]).to_numpy(dtype=int)


def _median_s(call: Callable[[], object], repeats: int, inner: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(inner):
            call()
        times.append((time.perf_counter() - started) / inner)
    return statistics.median(times)


def main() -> None:
    warnings.filterwarnings("ignore")
    X, y = _adult()
    one, many = X[:1], X[:10_000]
    print(f"adult: {X.shape[0]} rows x {X.shape[1]} columns")
    print(f"{'estimator':<15} {'1 row (ms)':>11} {'10,000 rows (ms)':>17}")
    for cls in (LightGBMModel, XGBoostModel, CatBoostModel):
        model = cls(task_kind="binary", n_classes=2, n_estimators=200, n_threads=2).fit(X, y)
        single = _median_s(lambda m=model: m.predict_proba(one), 7, 300)
        batch = _median_s(lambda m=model: m.predict_proba(many), 15, 1)
        print(f"{cls.__name__:<15} {single * 1e3:>11.3f} {batch * 1e3:>17.1f}")


if __name__ == "__main__":
    main()
