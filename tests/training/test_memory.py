"""Memory: estimates grow with the data, and the peak of a fit is measured."""

from __future__ import annotations

import numpy as np

from trainforge.training.memory import PeakMemory, available_mb, estimate_peak_mb


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
