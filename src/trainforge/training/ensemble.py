"""Greedy ensemble selection (Caruana et al., 2004) over out-of-fold predictions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from trainforge.training.scoring import Scorer


def greedy_selection(predictions: Sequence[np.ndarray], y: np.ndarray, scorer: Scorer, *,
                     rounds: int = 30) -> tuple[np.ndarray, float]:
    """Weights over ``predictions`` (summing to 1) chosen by adding, with replacement, the
    candidate that most improves the blend's score, starting from the best single one; the
    best blend met on the way is kept.

    Returns the weights and the blend's score (in the metric's own units).
    """
    n = len(predictions)
    if n == 0:
        raise ValueError("ensemble selection needs at least one candidate")
    singles = [scorer.utility(y, p) for p in predictions]
    best = int(np.argmax(singles))
    counts = np.zeros(n, dtype=np.int64)
    counts[best] = 1
    blend = np.asarray(predictions[best], dtype=np.float64).copy()
    best_utility, best_counts = singles[best], counts.copy()
    for size in range(2, rounds + 1):
        # always add the best addition (it may pay off later); keep the best blend seen
        trial_utilities = [scorer.utility(y, (blend * (size - 1) + p) / size)
                           for p in predictions]
        pick = int(np.argmax(trial_utilities))
        counts[pick] += 1
        blend = (blend * (size - 1) + predictions[pick]) / size
        if trial_utilities[pick] > best_utility + 1e-12:
            best_utility, best_counts = trial_utilities[pick], counts.copy()
    counts = best_counts
    weights = counts / counts.sum()
    final = sum(w * np.asarray(p, dtype=np.float64) for w, p in zip(weights, predictions,
                                                                     strict=True) if w > 0)
    return weights, scorer.score(y, np.asarray(final))
