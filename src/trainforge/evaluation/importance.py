"""Permutation importance: how much the task's metric drops when one input column is shuffled.

A blend's ``predict_proba`` costs a lot per call (every member, its preprocessing, thread
start-up) and little per row, so the shuffled copies of many columns go through the model in
one call, and every column gets one shuffle before any gets a second: a deadline then cuts
repeats, not columns.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from trainforge.algorithms.model import TabularModel
from trainforge.data.metrics import Metric, get_metric
from trainforge.evaluation.truth import truth_of

# rows sent to the model in one call (shuffled copies of several columns): large enough to
# amortise its overhead, small enough to keep memory flat and the deadline checked often;
# each member's encoded matrix of them and its output are held at once (40,000 rows of
# satimage's blend: +53 MB at the run's end)
_ROWS_PER_CALL = 20_000
# fewest rows worth scoring when a deadline forces a smaller sample
_MIN_ROWS = 100


def _output(model: TabularModel, frame: pd.DataFrame) -> np.ndarray:
    if model.task.kind.is_classification:
        return model.predict_proba(frame)
    return np.asarray(model.predict(frame), dtype="float64")


def _shuffled_copies(rows: pd.DataFrame, columns: Sequence[str],
                     rng: np.random.Generator) -> pd.DataFrame:
    """One copy of ``rows`` per column, with that column's values shuffled; stacked."""
    blocks = []
    for column in columns:
        block = rows.copy()
        block[column] = rows[column].iloc[rng.permutation(len(rows))].set_axis(rows.index)
        blocks.append(block)
    return pd.concat(blocks, ignore_index=True)


def _drops(metric: Metric, y_true: np.ndarray, reference: float, output: np.ndarray,
           n_blocks: int) -> list[float]:
    n_rows = len(y_true)
    # the fast twin (equal to the reported metric within 1e-9): scikit-learn's input checks
    # cost ~4 ms a call, and a 20-column table at 3 repeats scores 60 shuffles
    scores = [metric.compute_fast(y_true, output[b * n_rows:(b + 1) * n_rows])
              for b in range(n_blocks)]
    sign = 1.0 if metric.higher_is_better else -1.0
    return [sign * (reference - score) for score in scores]


def _affordable_rows(n_rows: int, n_columns: int, seconds_per_row: float,
                     deadline: float | None) -> int:
    """Rows to score so that one shuffle of every column fits before the deadline."""
    if deadline is None:
        return n_rows
    left_s = deadline - time.monotonic()
    fit = int(left_s / max(seconds_per_row * max(n_columns, 1), 1e-9))
    return max(min(n_rows, fit), min(n_rows, _MIN_ROWS))


def permutation_importance(model: TabularModel, frame: pd.DataFrame, *, max_rows: int = 2000,
                           repeats: int = 3, seed: int = 0, deadline: float | None = None
                           ) -> list[tuple[str, float, float]]:
    """(feature, mean drop of the task's metric, its standard deviation over the shuffles),
    most important first, for each of ``model.features``.

    Scores at most ``max_rows`` rows (a seeded sample) of ``frame``, which holds the target.
    ``deadline`` is a ``time.monotonic()`` value: the sample shrinks so that every column can
    be shuffled once before it, and past it the shuffles not yet made are skipped (columns
    not measured at all are left out). A positive drop means the model relies on the column;
    near 0 (or negative) means it could do without it.
    """
    rng = np.random.default_rng(seed)
    metric = get_metric(model.task.metric, model.task.kind)
    truth = truth_of(frame, model.task)
    rows = frame.iloc[np.flatnonzero(truth.kept)].reset_index(drop=True)
    y_true = truth.values
    if len(rows) > max_rows:
        picked = np.sort(rng.choice(len(rows), size=max_rows, replace=False))
        rows, y_true = rows.iloc[picked].reset_index(drop=True), y_true[picked]
    columns = [spec.name for spec in model.features if spec.name in rows.columns]
    started = time.monotonic()
    output = _output(model, rows)
    seconds_per_row = (time.monotonic() - started) / max(len(rows), 1)
    keep = _affordable_rows(len(rows), len(columns), seconds_per_row, deadline)
    if keep < len(rows):
        picked = np.sort(rng.choice(len(rows), size=keep, replace=False))
        rows, y_true, output = rows.iloc[picked].reset_index(drop=True), y_true[picked], \
            output[picked]
    reference = metric.compute_fast(y_true, output)
    per_call = max(1, _ROWS_PER_CALL // max(len(rows), 1))
    drops: dict[str, list[float]] = {column: [] for column in columns}
    batches = [columns[start:start + per_call] for start in range(0, len(columns), per_call)]
    for chunk in [chunk for _ in range(repeats) for chunk in batches]:
        if deadline is not None and time.monotonic() > deadline:
            break
        shuffled = _output(model, _shuffled_copies(rows, chunk, rng))
        for column, drop in zip(chunk, _drops(metric, y_true, reference, shuffled, len(chunk)),
                                strict=True):
            drops[column].append(drop)
    found = [(column, float(np.mean(measured)), float(np.std(measured)))
             for column, values in drops.items()
             if (measured := [v for v in values if not np.isnan(v)])]
    return sorted(found, key=lambda item: -item[1])
