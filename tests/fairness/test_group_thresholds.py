"""Per-group thresholds: fitted by Fairlearn's ThresholdOptimizer (``evaluation.mitigation``),
kept as JSON numbers, applied the same way at every door (``algorithms.group_thresholds``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from trainforge.algorithms.group_thresholds import GroupThresholds
from trainforge.errors import InvalidRequest
from trainforge.evaluation.mitigation import fit_thresholds


def biased_scores(n_rows: int = 3_000) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Scores that favour group a: its rows score 0.3 higher whatever their label."""
    rng = np.random.default_rng(0)
    group = np.where(rng.random(n_rows) < 0.5, "a", "b")
    label = (rng.random(n_rows) < np.where(group == "a", 0.6, 0.3)).astype(int)
    score = np.clip(0.5 * label + 0.3 * (group == "a") + rng.normal(0, 0.25, n_rows), 0, 1)
    return score, label, group.tolist()


@pytest.fixture(scope="module")
def parity() -> GroupThresholds:
    score, label, group = biased_scores()
    return fit_thresholds(score, label, group, constraint="demographic_parity",
                          columns=["g"], positive_class="yes")


def selection_rates(chosen: np.ndarray, group: list[str]) -> list[float]:
    keys = np.asarray(group)
    return [float(chosen[keys == g].mean()) for g in ("a", "b")]


def test_demographic_parity_thresholds_equalise_the_selection_rates(parity):
    score, _, group = biased_scores()
    before = selection_rates(score > 0.5, group)
    after = selection_rates(parity.decide(score, group), group)
    assert abs(before[0] - before[1]) > 0.3
    assert abs(after[0] - after[1]) < 0.05


def test_equalized_odds_thresholds_equalise_the_true_positive_rates():
    score, label, group = biased_scores()
    odds = fit_thresholds(score, label, group, constraint="equalized_odds", columns=["g"],
                          positive_class="yes")
    chosen, keys = odds.decide(score, group), np.asarray(group)
    rates = [chosen[(keys == g) & (label == 1)].mean() for g in ("a", "b")]
    assert abs(rates[0] - rates[1]) < 0.05


def test_thresholds_come_back_the_same_from_the_manifests_json(parity):
    score, _, group = biased_scores()
    again = GroupThresholds.from_manifest(json.loads(json.dumps(parity.to_manifest(),
                                                                allow_nan=False)))
    assert again == parity
    assert (again.decide(score, group) == parity.decide(score, group)).all()


def test_a_row_gets_the_same_answer_alone_as_in_a_batch(parity):
    score, _, group = biased_scores()
    batch = parity.decide(score, group)
    alone = [bool(parity.decide(score[i:i + 1], group[i:i + 1])[0]) for i in range(200)]
    assert alone == batch[:200].tolist()


def test_a_group_not_seen_in_training_keeps_the_models_own_answer(parity):
    assert parity.decide(np.array([0.2, 0.8]), ["c", "c"]).tolist() == [False, True]


def test_labels_without_the_sensitive_column_are_refused_naming_it(parity):
    with pytest.raises(InvalidRequest, match="column 'g' is needed"):
        parity.labels(np.array([[0.4, 0.6]]), {"x": [1.0]}, ("no", "yes"))


def test_a_tolerance_lets_the_selection_rates_differ_by_up_to_it():
    score, label, group = biased_scores()
    relaxed = fit_thresholds(score, label, group, constraint="demographic_parity",
                             columns=["g"], positive_class="yes", tolerance=0.2)
    rates = selection_rates(relaxed.decide(score, group), group)
    assert 0.1 < abs(rates[0] - rates[1]) <= 0.2 + 0.03
