"""A scikit-learn forest grown a slice of trees at a time, so a fold whose model is not kept
never holds the whole forest.

A forest of 300 fully grown trees is the largest thing a search builds: 60-100 MB for one
fold of a 5,000-row table, on top of everything the run has imported. Scikit-learn's warm
start adds trees drawn from the same seeds as one fit (its own tests check that the forests
are equal), so growing ``SLICE_TREES`` at a time gives the same trees. When the first slice
shows that the whole forest would hold more than the fold may keep, each slice predicts the
validation rows and is dropped before the next is grown: the fold's output is the mean of
every tree's, as the whole forest's is, and the fold holds one slice at a time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainforge.algorithms.catalog import AlignedClassifier
from trainforge.algorithms.trees import FOREST_TYPES
from trainforge.training.memory import fitted_mb, release_freed_memory

SLICE_TREES = 50  # a slice: 1/6 of the default forest's trees


@dataclass
class GrownForest:
    estimator: Any  # the forest, with all its trees when ``kept``, none otherwise
    output: np.ndarray  # its validation output: class probabilities, or values
    predict_s: float
    kept: bool


def grows_in_slices(estimator: Any) -> bool:
    """A scikit-learn forest with a fixed seed (warm start then replays the same trees)."""
    return type(estimator) in FOREST_TYPES and isinstance(estimator.random_state, int)


def grow_in_slices(forest: Any, X: Any, y: np.ndarray, valid: Any, *, n_classes: int,
                   keep_mb: float) -> GrownForest:
    """Fit ``forest`` on (X, y) ``SLICE_TREES`` trees at a time and predict ``valid``
    (``n_classes`` probability columns; 0 for a regressor). Its trees are kept when the
    whole forest, projected from its first slice, holds at most ``keep_mb``; otherwise
    each slice is dropped once it has predicted."""
    total = int(forest.n_estimators)
    forest.set_params(warm_start=True)
    summed, predicted, kept, predict_s = np.zeros(0), 0, True, 0.0
    for grown in range(SLICE_TREES, total + SLICE_TREES, SLICE_TREES):
        forest.set_params(n_estimators=min(grown, total))
        forest.fit(X, y)
        if predicted == 0 and kept:
            kept = fitted_mb(forest) * total / len(forest.estimators_) <= keep_mb
        if kept:
            continue
        started = time.monotonic()
        trees = forest.estimators_[predicted:]
        forest.estimators_ = trees  # the forest's own predict, over this slice's trees alone
        part = _output(forest, valid, n_classes=n_classes) * len(trees)
        summed = part if predicted == 0 else summed + part
        predicted += len(trees)
        # placeholders: warm start counts the trees grown so far to draw the next seeds
        forest.estimators_ = [None] * predicted
        del trees
        release_freed_memory()
        predict_s += time.monotonic() - started
    forest.set_params(warm_start=False, n_estimators=total)
    if not kept:
        forest.estimators_ = []
        return GrownForest(forest, summed / total, predict_s, kept=False)
    started = time.monotonic()
    output = _output(forest, valid, n_classes=n_classes)
    return GrownForest(forest, output, time.monotonic() - started, kept=True)


def _output(forest: Any, valid: Any, *, n_classes: int) -> np.ndarray:
    if n_classes == 0:
        return np.asarray(forest.predict(valid), dtype=np.float64).reshape(-1)
    # a fold that lacks a rare class still answers every class's column
    return np.asarray(AlignedClassifier(forest, n_classes).predict_proba(valid),
                      dtype=np.float64)
