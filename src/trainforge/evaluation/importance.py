"""Permutation importance: how much the task's metric drops when one input column is shuffled."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from trainforge.algorithms.model import TabularModel
from trainforge.evaluation.metrics import get_metric
from trainforge.evaluation.truth import truth_of


def _output(model: TabularModel, frame: pd.DataFrame) -> np.ndarray:
    if model.task.kind.is_classification:
        return model.predict_proba(frame)
    return np.asarray(model.predict(frame), dtype="float64")


def permutation_importance(model: TabularModel, frame: pd.DataFrame, *, max_rows: int = 2000,
                           repeats: int = 3, seed: int = 0, deadline: float | None = None
                           ) -> list[tuple[str, float, float]]:
    """(feature, mean drop of the task's metric, its standard deviation over ``repeats``
    shuffles), most important first, for each of ``model.features``.

    Scores at most ``max_rows`` rows (a seeded sample) of ``frame``, which holds the target.
    ``deadline`` is a ``time.monotonic()`` value: past it, the features not yet measured are
    left out and what was measured is returned. A positive drop means the model relies on the
    column; near 0 (or negative) means it could do without it.
    """
    rng = np.random.default_rng(seed)
    metric = get_metric(model.task.metric, model.task.kind)
    truth = truth_of(frame, model.task)
    rows = frame.iloc[np.flatnonzero(truth.kept)]
    y_true = truth.values
    if len(rows) > max_rows:
        picked = np.sort(rng.choice(len(rows), size=max_rows, replace=False))
        rows, y_true = rows.iloc[picked], y_true[picked]
    rows = rows.reset_index(drop=True)
    reference = metric.compute(y_true, _output(model, rows))
    n_rows = len(rows)
    # all shuffles of one column go through the model in one call: fewer, larger predictions
    stacked = pd.concat([rows] * repeats, ignore_index=True)
    y_stacked = np.tile(y_true, repeats)
    found: list[tuple[str, float, float]] = []
    for spec in model.features:
        if deadline is not None and time.monotonic() > deadline:
            break
        if spec.name not in rows.columns:
            continue
        original = rows[spec.name].to_numpy()
        shuffled = stacked.copy()
        shuffled[spec.name] = np.concatenate([original[rng.permutation(n_rows)]
                                              for _ in range(repeats)])
        output = _output(model, shuffled)
        drops = [reference - metric.compute(y_stacked[r * n_rows:(r + 1) * n_rows],
                                            output[r * n_rows:(r + 1) * n_rows])
                 for r in range(repeats)]
        if not metric.higher_is_better:
            drops = [-d for d in drops]
        found.append((spec.name, float(np.nanmean(drops)), float(np.nanstd(drops))))
    return sorted(found, key=lambda item: -item[1])
