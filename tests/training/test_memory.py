"""Memory: estimates grow with the data, and the peak of a fit is measured."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesRegressor
from tests.training._tables import FEATURES, SCHEMA, table

from trainforge.data.task import TaskKind
from trainforge.training import automl
from trainforge.training.memory import PeakMemory, available_mb, estimate_peak_mb, fitted_mb


def test_a_bigger_table_is_estimated_to_need_more_memory():
    small = estimate_peak_mb("lightgbm", n_rows=1_000, n_columns=10)
    large = estimate_peak_mb("lightgbm", n_rows=100_000, n_columns=10)
    assert 0 < small < large


def test_forests_are_estimated_to_need_more_than_boosting_on_the_same_table():
    assert estimate_peak_mb("random_forest", n_rows=50_000, n_columns=10) > estimate_peak_mb(
        "lightgbm", n_rows=50_000, n_columns=10)


def test_the_peak_memory_of_a_block_sees_a_large_temporary_allocation():
    with PeakMemory(interval_s=0.005) as peak:
        block = np.ones((64, 2**20 // 8 * 4))  # 256 MiB, touched
        block.sum()
        del block
    assert peak.peak_mb > 100 and available_mb() > 0


def test_a_fitted_forest_is_measured_by_its_trees_so_twice_the_trees_hold_twice_the_memory():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 4)), rng.normal(size=300)
    small = fitted_mb(ExtraTreesRegressor(n_estimators=10, random_state=0).fit(X, y))
    large = fitted_mb(ExtraTreesRegressor(n_estimators=20, random_state=0).fit(X, y))
    assert 0 < small and large == pytest.approx(2 * small, rel=0.1)


@pytest.mark.slow
def test_a_search_keeps_fitted_members_only_while_they_fit_the_memory_budget(monkeypatch):
    # unbounded, these four linear candidates all enter the blend; each one's coefficients
    # hold a few hundred bytes, so over this budget only the best keeps its fitted models
    monkeypatch.setattr(automl, "MEMBERS_BUDGET_MB", 1e-6)
    frame, task = table(TaskKind.BINARY)
    result = automl.search(frame, task=task, schema=SCHEMA, features=FEATURES, deadline=None,
                           trials=4, seed=0, algorithm="linear")
    blend = next(c for c in result.leaderboard if c.algorithm == "ensemble")
    assert blend.params["members"] == {"linear#0": 1.0}
