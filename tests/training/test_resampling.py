"""Small tables are cross-validated, large ones validated on a holdout."""

from __future__ import annotations

import numpy as np

from trainforge.training.resampling import plan_resampling


def test_a_small_table_gets_five_stratified_folds_covering_every_row_once():
    y = np.array([0] * 1600 + [1] * 400)
    plan = plan_resampling(y, classification=True, seed=0)
    assert plan.kind == "cv" and len(plan.folds) == 5
    validated = np.sort(np.concatenate([valid for _, valid in plan.folds]))
    assert validated.tolist() == list(range(2000))
    assert all(y[valid].sum() == 80 for _, valid in plan.folds)  # 400 positives over 5 folds


def test_a_tiny_table_is_cross_validated_twice_with_different_folds():
    y = np.array([0] * 80 + [1] * 20)
    plan = plan_resampling(y, classification=True, seed=0)
    assert len(plan.folds) == 10 and plan.repeats == 2
    counts = np.bincount(np.concatenate([valid for _, valid in plan.folds]))
    assert (counts == 2).all()
    assert plan.describe() == "5-fold cross-validation, 2 times"


def test_a_mid_sized_table_gets_three_folds():
    plan = plan_resampling(np.zeros(5_000), classification=False, seed=0)
    assert len(plan.folds) == 3


def test_a_large_table_gets_one_holdout_of_a_fifth_of_the_rows():
    y = np.random.default_rng(0).normal(size=5_000)
    plan = plan_resampling(y, classification=False, seed=0, max_cv_rows=1_000)
    assert plan.kind == "holdout" and len(plan.scored) == 1_000
    assert plan.train_fraction == 0.8
    assert "holdout" in plan.describe()
