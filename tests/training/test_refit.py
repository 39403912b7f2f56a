"""refit_on_all(): the evaluated blend fitted again on every labelled row."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.training._tables import FEATURES, SCHEMA, table

from trainforge.data.task import Task, TaskKind
from trainforge.training.automl import search
from trainforge.training.refit import refit_estimate_s, refit_on_all


def _searched(kind: TaskKind, n_rows: int = 300, **options: Any) -> tuple[pd.DataFrame, Task,
                                                                           Any]:
    frame, task = table(kind, n_rows, metric=None if kind is TaskKind.REGRESSION else "accuracy")
    settings: dict[str, Any] = {"deadline": None, "trials": 3, "seed": 0}
    settings.update(options)
    result = search(frame.iloc[: int(0.8 * n_rows)], task=task, schema=SCHEMA,
                    features=FEATURES, **settings)
    return frame, task, result


@pytest.fixture(scope="module")
def multiclass() -> tuple[pd.DataFrame, Task, Any]:
    """One 3-trial multiclass search for the tests that refit it or read it: a refit leaves
    the search's result as it was (the same-seed test refits one twice)."""
    return _searched(TaskKind.MULTICLASS)


def _refit(frame: pd.DataFrame, task: Task, result: Any, **options: Any) -> Any:
    settings: dict[str, Any] = {"deadline": None, "seed": 0}
    settings.update(options)
    return refit_on_all(result, frame, task=task, schema=SCHEMA, features=FEATURES, **settings)


@pytest.mark.slow
def test_the_refitted_model_keeps_the_blend_and_predicts_the_same_classes(multiclass):
    frame, task, result = multiclass
    refitted = _refit(frame, task, result)
    assert refitted is not None
    assert refitted.classes == result.model.classes
    assert refitted.features == result.model.features
    chosen = sorted(result.chosen, key=lambda c: -c.weight)
    assert [m.algorithm for m in refitted.members] == [c.spec.algorithm for c in chosen]
    assert [m.weight for m in refitted.members] == [c.weight for c in chosen]
    proba = refitted.predict_proba(frame)
    assert proba.shape == (len(frame), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_boosting_is_refitted_with_its_early_stopped_rounds_scaled_for_the_extra_rows():
    frame, task, result = _searched(TaskKind.REGRESSION, algorithm="lightgbm", trials=1)
    (chosen,) = result.chosen
    refitted = _refit(frame, task, result)
    (member,) = refitted.members
    found = float(np.mean(chosen.best_iterations))
    assert found < member.estimator.n_estimators <= 1.5 * found + 1
    assert member.estimator.best_iteration_ == member.estimator.n_estimators


def test_the_refit_learns_from_the_rows_the_search_never_saw():
    frame, task, result = _searched(TaskKind.REGRESSION, algorithm="linear", trials=1)
    refitted = _refit(frame, task, result)
    unseen = frame.iloc[240:]
    search_error = np.mean((result.model.predict(unseen) - unseen["y"]) ** 2)
    refit_error = np.mean((refitted.predict(unseen) - unseen["y"]) ** 2)
    assert refit_error < search_error  # it has now trained on them


@pytest.mark.slow
def test_the_same_seed_refits_to_the_same_predictions(multiclass):
    frame, task, result = multiclass
    first = _refit(frame, task, result).predict_proba(frame)
    second = _refit(frame, task, result).predict_proba(frame)
    np.testing.assert_array_equal(first, second)


@pytest.mark.slow
def test_a_refit_that_cannot_finish_by_the_deadline_returns_none_without_waiting(multiclass):
    frame, task, result = multiclass
    started = time.monotonic()
    assert _refit(frame, task, result, deadline=started + 0.01) is None
    assert time.monotonic() - started < 0.05


@pytest.mark.slow
def test_the_refit_estimate_grows_with_the_rows(multiclass):
    _, _, result = multiclass
    small = refit_estimate_s(result.chosen, n_rows=300)
    assert 0 < small < refit_estimate_s(result.chosen, n_rows=3_000)


@pytest.mark.slow
def test_a_refit_with_time_to_spare_finishes_before_its_deadline(multiclass):
    frame, task, result = multiclass
    deadline = time.monotonic() + 60.0
    assert _refit(frame, task, result, deadline=deadline) is not None
    assert time.monotonic() < deadline


@pytest.mark.slow
def test_a_bagged_refit_fits_each_candidate_once_per_fold():
    frame, task, result = _searched(TaskKind.MULTICLASS, trials=2)
    single = _refit(frame, task, result)
    bagged = _refit(frame, task, result, bag=True)
    assert len(bagged.members) == 10 * len(single.members)  # 300 rows: 5 folds, twice
    assert sum(m.weight for m in bagged.members) == pytest.approx(
        sum(m.weight for m in single.members))
