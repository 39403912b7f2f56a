"""Greedy ensemble selection picks and weighs candidates by their validation predictions."""

from __future__ import annotations

import numpy as np

from trainforge.data.task import TaskKind
from trainforge.training.ensemble import greedy_selection
from trainforge.training.scoring import scorer_for

R2 = scorer_for("r2", TaskKind.REGRESSION)


def test_two_models_with_independent_errors_are_blended_and_beat_each_alone():
    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    first, second = y + rng.normal(size=500), y + rng.normal(size=500)
    weights, score = greedy_selection([first, second], y, R2)
    assert weights.tolist() == [0.5, 0.5] or min(weights) >= 0.3
    assert score > max(R2.score(y, first), R2.score(y, second))


def test_a_useless_candidate_gets_no_weight():
    rng = np.random.default_rng(1)
    y = rng.normal(size=300)
    weights, _ = greedy_selection([y + 0.1 * rng.normal(size=300), rng.normal(size=300)], y, R2)
    assert weights[1] == 0.0 and weights.sum() == 1.0


def test_probability_matrices_blend_into_probability_matrices():
    y = np.array([0, 1, 1, 0])
    a = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.6, 0.4]])
    weights, score = greedy_selection([a, a[:, ::-1]], y, scorer_for("roc_auc", TaskKind.BINARY))
    assert weights.tolist() == [1.0, 0.0] and score == 1.0
