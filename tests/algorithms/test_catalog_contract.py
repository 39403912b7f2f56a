"""Every catalog algorithm honours one contract: shapes, probabilities, saving, determinism."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io as sio
from tests.algorithms._catalog_cases import QUICK, TABULAR, TASKS

from trainforge.algorithms import catalog
from trainforge.data.task import TaskKind
from trainforge.errors import UnknownAlgorithm
from trainforge.registry.allowed_types import SKOPS_TYPES

CASES = [(a.name, kind) for a in TABULAR for kind in sorted(a.kinds)]


def _data(kind: TaskKind, n_rows: int = 160) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_rows, 5))
    signal = X[:, 0] + 0.5 * X[:, 1]
    if kind is TaskKind.REGRESSION:
        return X, 3.0 * signal + rng.normal(scale=0.1, size=n_rows)
    edges = [0.0] if kind is TaskKind.BINARY else [-0.5, 0.5]
    return X, np.digitize(signal, edges)


def _fitted(name: str, kind: TaskKind, seed: int = 0) -> tuple[Any, np.ndarray]:
    X, y = _data(kind)
    estimator = catalog.get(name).build(QUICK.get(name, {}), TASKS[kind], seed)
    return estimator.fit(X[:120], y[:120]), X[120:]


@functools.cache
def _fitted_once(name: str, kind: TaskKind) -> tuple[Any, np.ndarray]:
    """``_fitted(name, kind)``, fitted once in the process for the tests that only read it
    (predict, save and load); the determinism test fits its own."""
    return _fitted(name, kind)


def _output(estimator: Any, X: np.ndarray, kind: TaskKind) -> np.ndarray:
    if kind.is_classification:
        return np.asarray(estimator.predict_proba(X))
    return np.asarray(estimator.predict(X))


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_every_algorithm_predicts_one_value_or_one_probability_row_per_input_row(
        name: str, kind: TaskKind):
    estimator, X = _fitted_once(name, kind)
    output = _output(estimator, X, kind)
    if kind.is_classification:
        assert output.shape == (len(X), len(TASKS[kind].classes))
        np.testing.assert_allclose(output.sum(axis=1), 1.0, atol=1e-6)
        assert set(np.unique(estimator.predict(X))) <= set(range(len(TASKS[kind].classes)))
    else:
        assert output.shape == (len(X),)


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_every_algorithm_gives_identical_predictions_after_saving_and_loading(
        name: str, kind: TaskKind, tmp_path: Path):
    estimator, X = _fitted_once(name, kind)
    if hasattr(estimator, "save_native"):
        files = estimator.save_native(tmp_path, "member0")
        assert all((tmp_path / f).is_file() for f in files)
        loaded = type(estimator).load_native(tmp_path, "member0")
    else:
        blob = sio.dumps(estimator)
        untrusted = sio.get_untrusted_types(data=blob)
        assert set(untrusted) <= SKOPS_TYPES, sorted(set(untrusted) - SKOPS_TYPES)
        loaded = sio.loads(blob, trusted=untrusted)
    # forests sum their trees on two threads: the order, so the last bit, may differ
    np.testing.assert_allclose(_output(loaded, X, kind), _output(estimator, X, kind),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_every_algorithm_is_deterministic_for_a_seed(name: str, kind: TaskKind):
    first, X = _fitted(name, kind, seed=7)
    second, _ = _fitted(name, kind, seed=7)
    np.testing.assert_allclose(_output(first, X, kind), _output(second, X, kind), rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("name", [a.name for a in TABULAR])
def test_every_search_space_samples_parameters_the_algorithm_accepts(name: str):
    import optuna

    algorithm = catalog.get(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    params = algorithm.search_space(study.ask())
    X, y = _data(TaskKind.BINARY)
    estimator = algorithm.build({**params, **QUICK.get(name, {})}, TASKS[TaskKind.BINARY], 0)
    assert estimator.fit(X, y).predict_proba(X).shape == (len(X), 2)


def test_boosting_stops_at_the_deadline_with_the_trees_built_so_far():
    X, y = _data(TaskKind.BINARY, n_rows=400)
    estimator = catalog.get("lightgbm").build({"n_estimators": 100_000, "learning_rate": 0.001},
                                              TASKS[TaskKind.BINARY], 0)
    import time

    estimator.fit(X, y, stop_at=time.monotonic() + 0.3)
    assert estimator.stopped_by_time_ and 0 < estimator.best_iteration_ < 100_000


def test_early_stopping_on_a_validation_set_keeps_the_best_iteration():
    X, y = _data(TaskKind.REGRESSION, n_rows=400)
    estimator = catalog.get("xgboost").build({"n_estimators": 3000}, TASKS[TaskKind.REGRESSION],
                                             0)
    estimator.fit(X[:300], y[:300], eval_set=(X[300:], y[300:]))
    assert estimator.best_iteration_ < 3000


def test_a_classifier_that_saw_only_some_classes_answers_for_all_of_them():
    X, y = _data(TaskKind.MULTICLASS)
    seen = y != 2
    estimator = catalog.get("linear").build({}, TASKS[TaskKind.MULTICLASS], 0).fit(X[seen],
                                                                                   y[seen])
    aligned = catalog.AlignedClassifier(estimator, 3)
    proba = aligned.predict_proba(X)
    assert proba.shape == (len(X), 3) and (proba[:, 2] == 0).all()


def test_an_unknown_algorithm_name_suggests_the_closest_one():
    with pytest.raises(UnknownAlgorithm, match="Did you mean 'lightgbm'"):
        catalog.get("lightgbn")


def test_threads_are_limited_to_the_available_cores_and_at_most_two():
    assert 1 <= catalog.n_threads() <= 2
