"""Drift detection on a real table replayed as a stream: rows until the first alert after a
shift injected at a known row, and false alerts per 100 windows on the same stream without it.

    PYTHONPATH=src python benchmarks/monitoring/drift_detection.py [--seeds 5]

The table is examples/adult.csv (UCI Adult, 32,561 rows, 14 features: 6 numbers, 8
categories; the target is left out). Per seed: the rows are shuffled, the first 10,000 build
the reference (``build_reference``, as a trained package carries it), the other 22,561 are the
stream, compared window by window (``drift.compare_window``, the code ``trainforge monitor``
runs; no HTTP). An alert is a window with at least one drifted feature. Shifts, injected at
stream row 10,000:

- ``age +3``: every ``age`` three years older (a fifth of its spread);
- ``no 50+``: from the shift on, the rows are re-sampled from the people under 50 (a
  sub-population: ``age`` moves, and with it marital status, relationship, hours...);
- ``age +1``: a small shift, one year, to show where detection stops.

(A shift of ``hours_per_week`` is no test: 47 % of its rows are exactly 40, so even +1 hour
moves half the rows across a decile edge and is caught in the first window.)
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

from trainforge.algorithms.model import FeatureSpec
from trainforge.data.dataset import ColumnKind
from trainforge.data.task import Task, TaskKind
from trainforge.monitoring.drift import compare_window
from trainforge.monitoring.reference import build_reference

ADULT = Path(__file__).resolve().parents[2] / "examples" / "adult.csv"
REFERENCE_ROWS = 10_000
SHIFT_AT = 10_000  # stream row where the shift starts
WINDOWS = (250, 1_000, 2_500)  # the last is judged by distances (PSI, JS), the others by tests
SHIFTS = ("age +3", "no 50+", "age +1")
TASK = Task(target="income", kind=TaskKind.BINARY, metric="roc_auc", classes=("<=50K", ">50K"))


def _features(frame: pd.DataFrame) -> list[FeatureSpec]:
    return [FeatureSpec(c, ColumnKind.NUMERIC, "number") if frame[c].dtype.kind in "if" else
            FeatureSpec(c, ColumnKind.CATEGORICAL, "string") for c in frame.columns]


def _as_logged(rows: pd.DataFrame) -> pd.DataFrame:
    logged = rows.add_prefix("in.").reset_index(drop=True)
    logged["time"] = pd.Timestamp("2026-01-01", tz="UTC")
    return logged


def _shifted(stream: pd.DataFrame, shift: str, rng: np.random.Generator) -> pd.DataFrame:
    before, after = stream.iloc[:SHIFT_AT], stream.iloc[SHIFT_AT:].copy()
    if shift.startswith("age"):
        after["age"] = after["age"] + int(shift.split("+")[1])
    else:
        younger = stream[stream["age"] < 50]
        after = younger.iloc[rng.integers(0, len(younger), len(after))]
    return pd.concat([before, after], ignore_index=True)


def _alerts(stream: pd.DataFrame, reference: dict, window: int) -> list[tuple[int, int]]:
    """(first row, end row) of each window that alerted."""
    logged = _as_logged(stream)
    found = []
    for start in range(0, len(logged) - window + 1, window):  # whole windows only
        if compare_window(logged.iloc[start:start + window], reference).drifted_features:
            found.append((start, start + window))
    return found


def run(seeds: int) -> None:
    table = pd.read_csv(ADULT).drop(columns=["income"])
    features = _features(table)
    false_alerts = {w: [0, 0] for w in WINDOWS}  # alerts, windows
    delays: dict[tuple[str, int], list[int]] = {}
    missed: dict[tuple[str, int], int] = {}
    started = time.perf_counter()
    n_windows = 0
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        rows = table.iloc[rng.permutation(len(table))].reset_index(drop=True)
        reference = build_reference(rows.iloc[:REFERENCE_ROWS], features, predictions=None,
                                    task=TASK, seed=seed)
        stream = rows.iloc[REFERENCE_ROWS:].reset_index(drop=True)
        for window in WINDOWS:
            alerts = _alerts(stream, reference, window)
            false_alerts[window][0] += len(alerts)
            false_alerts[window][1] += len(stream) // window
            n_windows += len(stream) // window
            for shift in SHIFTS:
                after = [end for start, end in _alerts(_shifted(stream, shift, rng), reference,
                                                       window) if end > SHIFT_AT]
                n_windows += len(stream) // window
                if after:
                    delays.setdefault((shift, window), []).append(after[0] - SHIFT_AT)
                else:
                    missed[(shift, window)] = missed.get((shift, window), 0) + 1
    elapsed = time.perf_counter() - started
    print(f"examples/adult.csv, {seeds} seeds (shuffles), reference {REFERENCE_ROWS:,} rows, "
          f"stream {len(table) - REFERENCE_ROWS:,} rows, shift at stream row {SHIFT_AT:,}")
    print(f"{n_windows:,} windows compared in {elapsed:.1f} s "
          f"({elapsed / n_windows * 1000:.1f} ms a window)\n")
    print("| window | false alerts / 100 windows (no shift) | shift | rows until alert, median "
          "(min–max) | windows until alert, median | missed |")
    print("|---:|---:|---|---|---:|---:|")
    for window in WINDOWS:
        alerts, windows = false_alerts[window]
        for shift in SHIFTS:
            found = delays.get((shift, window), [])
            shown = (f"{statistics.median(found):,.0f} ({min(found):,}–{max(found):,})"
                     if found else "—")
            in_windows = (f"{statistics.median([-(-d // window) for d in found]):.0f}"
                          if found else "—")
            print(f"| {window:,} | {100 * alerts / windows:.2f} ({alerts}/{windows}) | {shift} | "
                  f"{shown} | {in_windows} | {missed.get((shift, window), 0)}/{seeds} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    run(parser.parse_args().seeds)
