"""Champion against challenger on constructed logs and labels: the paired bootstrap's
verdict, and the promotion rule that reads it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trainforge.data.task import Task
from trainforge.data.task_kind import TaskKind
from trainforge.errors import ConfigError
from trainforge.monitoring.compare import PromotionRule, compare_rows

TASK = Task("y", TaskKind.BINARY, "accuracy", ("no", "yes"))
N_ROWS = 300


def _truth() -> np.ndarray:
    return np.random.default_rng(0).choice(["no", "yes"], N_ROWS)


def _answers(share_right: float, *, seed: int) -> pd.DataFrame:
    """A version's logged rows, right on the first ``share_right`` of them (shuffled)."""
    truth = _truth()
    right = np.random.default_rng(seed).permutation(N_ROWS) < share_right * N_ROWS
    predicted = np.where(right, truth, np.where(truth == "yes", "no", "yes"))
    yes = np.where(predicted == "yes", 0.8, 0.2)
    return pd.DataFrame({"request_id": [f"r{i // 3}" for i in range(N_ROWS)],
                         "row": [i % 3 for i in range(N_ROWS)], "out.prediction": predicted,
                         "out.proba.no": 1.0 - yes, "out.proba.yes": yes})


def _labels(n_rows: int = N_ROWS) -> pd.DataFrame:
    return pd.DataFrame({"request_id": [f"r{i // 3}" for i in range(n_rows)],
                         "row": [i % 3 for i in range(n_rows)], "label": _truth()[:n_rows]})


def _compare(champion: pd.DataFrame, challenger: pd.DataFrame,
             labels: pd.DataFrame | None = None, **options: int):
    return compare_rows(champion, challenger, _labels() if labels is None else labels,
                        task=TASK, refs=("m:1", "m:2"), deployment="m", **options)


def test_a_clearly_better_challenger_is_called_better_with_an_interval_above_zero():
    comparison = _compare(_answers(0.6, seed=1), _answers(0.95, seed=2))
    assert comparison.verdict.startswith("challenger better by 0.35")
    assert comparison.ci_low > 0.25 and comparison.p_value < 0.01


def test_an_equal_challenger_is_no_significant_difference():
    comparison = _compare(_answers(0.8, seed=1), _answers(0.8, seed=2))
    assert comparison.verdict.startswith("no significant difference")
    assert comparison.ci_low < 0 < comparison.ci_high


def test_agreement_is_the_share_of_shared_requests_both_versions_answered_alike():
    champion = _answers(0.8, seed=1)
    comparison = _compare(champion, champion.iloc[:150])
    assert (comparison.n_requests, comparison.agreement) == (150, 1.0)


def test_fewer_labels_than_needed_says_so_and_scores_nothing():
    comparison = _compare(_answers(0.6, seed=1), _answers(0.95, seed=2), _labels(40))
    assert comparison.verdict == "not enough labels: 40 < 100"
    assert comparison.difference is None


def test_the_bootstrap_is_seeded_so_a_comparison_repeats_exactly():
    first = _compare(_answers(0.7, seed=1), _answers(0.75, seed=2))
    assert _compare(_answers(0.7, seed=1), _answers(0.75, seed=2)) == first


def test_the_promotion_rule_holds_for_a_clearly_better_challenger():
    comparison = _compare(_answers(0.6, seed=1), _answers(0.95, seed=2))
    assert PromotionRule(min_margin=0.1, min_labels=200).holds(comparison)


def test_the_promotion_rule_does_not_hold_below_its_margin():
    comparison = _compare(_answers(0.6, seed=1), _answers(0.95, seed=2))
    assert not PromotionRule(min_margin=0.5).holds(comparison)


def test_the_promotion_rule_does_not_hold_for_an_equal_challenger():
    comparison = _compare(_answers(0.8, seed=1), _answers(0.8, seed=2))
    assert not PromotionRule(min_margin=0.0).holds(comparison)


def test_a_negative_margin_is_refused_naming_it():
    with pytest.raises(ConfigError, match="min_margin -1"):
        PromotionRule(min_margin=-1)
