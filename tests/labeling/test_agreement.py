"""Agreement between annotators: Cohen's kappa for two, Fleiss' for more."""

from __future__ import annotations

import pytest

from trainforge.labeling.agreement import agreement, fleiss_kappa


def test_two_annotators_who_always_agree_have_a_cohen_kappa_of_one():
    labels = [(i, who, "a" if i % 2 else "b") for i in range(6) for who in ("ann", "bob")]
    assert agreement(labels).kappa == pytest.approx(1.0)
    assert agreement(labels).method == "cohen"


def test_fleiss_kappa_matches_the_worked_example_of_fleiss_1971():
    # Wikipedia's worked example: 10 items, 14 raters, 5 classes; kappa 0.210
    counts = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0],
              [2, 2, 8, 1, 1], [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2],
              [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    ratings = [[str(c) for c, n in enumerate(row) for _ in range(n)] for row in counts]
    assert fleiss_kappa(ratings) == pytest.approx(0.210, abs=0.001)


def test_three_annotators_are_measured_with_fleiss_kappa():
    labels = [(0, "ann", "a"), (0, "bob", "a"), (1, "bob", "b"), (1, "cat", "b"),
              (2, "ann", "a"), (2, "cat", "b")]
    assert agreement(labels).method == "fleiss"


def test_no_kappa_until_two_items_have_two_labels():
    assert agreement([(0, "ann", "a"), (0, "bob", "a"), (1, "ann", "b")]).kappa is None
