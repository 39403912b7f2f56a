"""The training rules of a tabular search: a leaking column, a target nothing predicts, and
every trial overfitting are each found, with what to try; a healthy table gets none."""

from __future__ import annotations

import numpy as np
import pandas as pd
from tests.training._tables import FEATURES, table

from trainforge.data.task import TaskKind
from trainforge.evaluation.search_rules import (
    every_trial_overfits,
    id_column_dominates,
    leaking_column,
    target_unpredictable,
)


def test_a_copy_of_the_target_is_found_as_a_leaking_column():
    frame, _ = table(TaskKind.BINARY, n_rows=400)
    frame["outcome_copy"] = frame["y"]
    finding = leaking_column(frame, target="y", features=[*FEATURES, "outcome_copy"],
                             classification=True, seed=0)
    assert (finding.rule, finding.measured["score"]) == ("leaking_column", 1.0)
    assert "'outcome_copy'" in finding.message and "'outcome_copy'" in finding.advice


def test_a_number_that_is_the_regression_target_plus_a_constant_leaks():
    frame, _ = table(TaskKind.REGRESSION, n_rows=400)
    frame["y_in_cents"] = frame["y"] * 100 + 5
    finding = leaking_column(frame, target="y", features=[*FEATURES, "y_in_cents"],
                             classification=False, seed=0)
    assert "'y_in_cents'" in finding.message


def test_honest_columns_are_not_called_leaks():
    frame, _ = table(TaskKind.MULTICLASS, n_rows=400)
    assert leaking_column(frame, target="y", features=FEATURES, classification=True,
                          seed=0) is None


def test_an_id_column_holding_most_of_the_importance_is_found_as_a_leak():
    frame = pd.DataFrame({"customer_id": np.arange(300), "x": np.zeros(300)})
    finding = id_column_dominates([("customer_id", 0.3, 0.01), ("x", 0.02, 0.01)], frame)
    assert finding.rule == "leaking_column" and finding.measured["importance_share"] > 0.9


def test_a_validation_score_at_the_baseline_says_the_target_is_unpredictable():
    finding = target_unpredictable(validation_score=0.505, baseline_score=0.5, scale=0.5,
                                   higher_is_better=True, metric="roc_auc")
    assert finding.rule == "target_unpredictable" and "--target" in finding.advice


def test_a_model_well_above_the_baseline_is_not_called_unpredictable():
    assert target_unpredictable(validation_score=0.8, baseline_score=0.5, scale=0.5,
                                higher_is_better=True, metric="roc_auc") is None


def test_every_trial_scoring_far_better_on_its_training_rows_is_found():
    fits = [("lightgbm", 1.0, 0.7), ("random_forest", 1.0, 0.72)]
    finding = every_trial_overfits(fits, scale=0.5, higher_is_better=True, metric="roc_auc")
    assert finding.measured == {"smallest_gap": 0.56, "trials": 2.0}


def test_trials_that_learned_their_rows_more_than_the_target_are_found():
    fits = [("lightgbm", 1.0, 0.6), ("random_forest", 1.0, 0.62)]  # a constant: 0.5
    finding = every_trial_overfits(fits, scale=0.5, higher_is_better=True, metric="roc_auc",
                                   baseline_score=0.5)
    assert finding is not None and "constant" in finding.message


def test_trees_at_one_on_their_rows_and_far_above_the_constant_are_not_overfitting():
    fits = [("lightgbm", 1.0, 0.78), ("random_forest", 1.0, 0.77)]  # credit_g, healthy
    assert every_trial_overfits(fits, scale=0.5, higher_is_better=True, metric="roc_auc",
                                baseline_score=0.5) is None


def test_one_trial_that_generalises_clears_the_search_of_overfitting():
    fits = [("lightgbm", 1.0, 0.7), ("linear", 0.74, 0.72)]
    assert every_trial_overfits(fits, scale=0.5, higher_is_better=True, metric="roc_auc") is None
