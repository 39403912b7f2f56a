"""A forest grown a slice of trees at a time: the same trees as one fit, and a fold whose model
is not kept never holds more than one slice of them."""

from __future__ import annotations

import gc
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier, RandomForestRegressor
from sklearn.tree import BaseDecisionTree, DecisionTreeClassifier

from trainforge.training import forest_slices
from trainforge.training.forest_slices import SLICE_TREES, grow_in_slices, grows_in_slices

N_TREES = 2 * SLICE_TREES + 7  # two whole slices and a part


def _classes() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(600, 8, n_informative=5, n_classes=3, random_state=0)


@pytest.mark.parametrize("forest", [ExtraTreesClassifier, RandomForestClassifier])
def test_a_forest_grown_in_slices_and_kept_is_the_forest_fitted_at_once(forest: Any):
    X, y = _classes()
    whole = forest(n_estimators=N_TREES, random_state=3).fit(X, y)
    grown = grow_in_slices(forest(n_estimators=N_TREES, random_state=3), X, y, X[:100],
                           n_classes=3, keep_mb=float("inf"))
    assert grown.kept and len(grown.estimator.estimators_) == N_TREES
    np.testing.assert_array_equal(grown.estimator.predict_proba(X), whole.predict_proba(X))
    np.testing.assert_array_equal(grown.output, whole.predict_proba(X[:100]))


def test_a_forest_too_large_to_keep_answers_as_the_whole_forest_and_keeps_no_tree():
    X, y = make_regression(600, 8, random_state=0)
    whole = RandomForestRegressor(n_estimators=N_TREES, random_state=1).fit(X, y)
    grown = grow_in_slices(RandomForestRegressor(n_estimators=N_TREES, random_state=1), X, y,
                           X[:100], n_classes=0, keep_mb=0.0)
    assert not grown.kept and grown.estimator.estimators_ == []
    np.testing.assert_allclose(grown.output, whole.predict(X[:100]), rtol=1e-12)


def test_a_forest_not_kept_never_holds_more_than_one_slice_of_trees(
        monkeypatch: pytest.MonkeyPatch):
    X, y = _classes()
    alive: list[int] = []
    predict = forest_slices._output

    def grown_trees() -> list[Any]:
        gc.collect()  # what is still referenced anywhere, not what awaits collection
        return [o for o in gc.get_objects() if isinstance(o, BaseDecisionTree)
                and hasattr(o, "tree_")]

    def counting(forest: Any, valid: Any, *, n_classes: int) -> np.ndarray:
        alive.append(len(grown_trees()))
        return predict(forest, valid, n_classes=n_classes)

    monkeypatch.setattr(forest_slices, "_output", counting)
    # what is alive before the forest grows is not its trees (other tests of this process may
    # hold a forest): frozen, collections and gc.get_objects() skip it, so each count scans
    # only what was made since (in a worker that ran other files first, the millions of
    # objects scanned took seconds a count). It stays frozen, as conftest leaves what
    # collection imported: unfreezing would thaw that too
    gc.collect()
    gc.freeze()
    grow_in_slices(ExtraTreesClassifier(n_estimators=N_TREES, random_state=0), X, y, X[:50],
                   n_classes=3, keep_mb=0.0)
    assert len(alive) == 3 and max(alive) <= SLICE_TREES


def test_a_fold_that_lacks_a_class_still_answers_every_class_column():
    X, y = _classes()
    seen = y != 2
    grown = grow_in_slices(ExtraTreesClassifier(n_estimators=N_TREES, random_state=0),
                           X[seen], y[seen], X[:20], n_classes=3, keep_mb=0.0)
    assert grown.output.shape == (20, 3) and np.all(grown.output[:, 2] == 0.0)


def test_only_a_seeded_scikit_learn_forest_grows_in_slices():
    assert grows_in_slices(ExtraTreesClassifier(random_state=0))
    assert not grows_in_slices(ExtraTreesClassifier(random_state=None))
    assert not grows_in_slices(DecisionTreeClassifier(random_state=0))
