"""Every network in the catalog honours the estimator contract on the data it reads."""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trainforge.algorithms import catalog
from trainforge.data.task import Task, TaskKind

torch = pytest.importorskip("torch")

# two epochs, small widths: the contract does not depend on model size
QUICK: dict[str, Any] = {"max_epochs": 2, "fixed_epochs": True, "batch_size": 32}
SMALL = {"cnn": {"width": 4}, "gru": {"width": 16}, "text_transformer": {"width": 16}}
TASKS = {
    TaskKind.BINARY: Task("y", TaskKind.BINARY, "roc_auc", ("no", "yes")),
    TaskKind.MULTICLASS: Task("y", TaskKind.MULTICLASS, "balanced_accuracy", ("a", "b", "c")),
    TaskKind.REGRESSION: Task("y", TaskKind.REGRESSION, "r2"),
}
NETWORKS = [a for a in catalog.all_algorithms() if a.family == "network"]
CASES = [(a.name, kind) for a in NETWORKS for kind in sorted(a.kinds)]
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]


def _png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def _data(name: str, kind: TaskKind, n_rows: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Images whose brightness, or texts whose words, carry the target."""
    rng = np.random.default_rng(0)
    level = rng.integers(0, 3, size=n_rows)
    y = (level.astype(float) * 2.0 + rng.normal(scale=0.1, size=n_rows)
         if kind is TaskKind.REGRESSION else np.minimum(level, len(TASKS[kind].classes) - 1))
    X = np.empty(n_rows, dtype=object)
    for i, value in enumerate(level):
        if catalog.get(name).preprocessing == "image":
            X[i] = _png(rng.integers(0, 60, size=(8, 8)) + 80 * value)
        else:
            X[i] = " ".join([WORDS[value], *rng.choice(WORDS[3:], size=4)])
    return X, y


def _fitted(name: str, kind: TaskKind, seed: int = 0) -> tuple[Any, np.ndarray]:
    X, y = _data(name, kind)
    params = {**QUICK, **SMALL.get(name, {})}
    estimator = catalog.get(name).build(params, TASKS[kind], seed)
    return estimator.fit(X[:72], y[:72]), X[72:]


@functools.cache
def _fitted_once(name: str, kind: TaskKind) -> tuple[Any, np.ndarray]:
    """``_fitted(name, kind)``, fitted once in the process for the tests that only read it
    (predict, save and load); the determinism test fits its own."""
    return _fitted(name, kind)


def _output(estimator: Any, X: np.ndarray, kind: TaskKind) -> np.ndarray:
    return np.asarray(estimator.predict_proba(X) if kind.is_classification
                      else estimator.predict(X))


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_every_network_predicts_one_value_or_one_probability_row_per_input_row(
        name: str, kind: TaskKind):
    estimator, X = _fitted_once(name, kind)
    output = _output(estimator, X, kind)
    if kind.is_classification:
        assert output.shape == (len(X), len(TASKS[kind].classes))
        np.testing.assert_allclose(output.sum(axis=1), 1.0, atol=1e-6)
    else:
        assert output.shape == (len(X),) and np.isfinite(output).all()


@pytest.mark.slow
@pytest.mark.parametrize(("name", "kind"), CASES)
def test_every_network_predicts_the_same_after_saving_in_safetensors_and_json(
        name: str, kind: TaskKind, tmp_path: Path):
    estimator, X = _fitted_once(name, kind)
    files = estimator.save_native(tmp_path, "member-0")
    assert sorted(Path(f).suffix for f in files) == [".json", ".safetensors"]
    loaded = type(estimator).load_native(tmp_path, "member-0")
    np.testing.assert_allclose(_output(loaded, X, kind), _output(estimator, X, kind),
                               rtol=1e-5, atol=1e-6)


# MiniLM's fits encode every row with the pretrained model (and minilm_tuned trains its
# layers): 7-23 s each on the loaded VM, so the fast tier leaves them to make test
MINILM_SLOW = [pytest.param(a.name, marks=pytest.mark.slow) if a.name.startswith("minilm")
               else a.name for a in NETWORKS]


@pytest.mark.parametrize("name", MINILM_SLOW)
def test_every_network_is_deterministic_for_a_seed(name: str):
    first, X = _fitted(name, TaskKind.BINARY, seed=7)
    second, _ = _fitted(name, TaskKind.BINARY, seed=7)
    np.testing.assert_allclose(_output(first, X, TaskKind.BINARY),
                               _output(second, X, TaskKind.BINARY), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", MINILM_SLOW)
def test_every_network_search_space_samples_parameters_it_accepts(name: str):
    import optuna

    algorithm = catalog.get(name)
    params = algorithm.search_space(optuna.create_study(
        sampler=optuna.samplers.RandomSampler(seed=0)).ask())
    X, y = _data(name, TaskKind.BINARY)
    estimator = algorithm.build({**params, **QUICK, **SMALL.get(name, {})},
                                TASKS[TaskKind.BINARY], 0)
    assert estimator.fit(X, y).predict_proba(X).shape == (len(X), 2)


def test_a_minilm_package_keeps_only_the_head_not_the_pretrained_encoder(tmp_path: Path):
    estimator, _ = _fitted_once("minilm", TaskKind.BINARY)
    files = estimator.save_native(tmp_path, "member-0")
    weights = next(tmp_path / f for f in files if f.endswith(".safetensors"))
    assert weights.stat().st_size < 100_000  # the encoder itself is 90 MB


@pytest.mark.slow
def test_a_network_with_validation_rows_keeps_its_best_epoch_and_its_learning_curve():
    X, y = _data("gru", TaskKind.BINARY, n_rows=120)
    estimator = catalog.get("gru").build({"max_epochs": 6, "epoch_limit": 6, "width": 16,
                                          "patience": 2}, TASKS[TaskKind.BINARY], 0)
    estimator.fit(X[:90], y[:90], eval_set=(X[90:], y[90:]))
    epochs = estimator.history_["epochs"]
    assert 1 <= estimator.best_iteration_ <= len(epochs)
    assert all(e["val_loss"] is not None for e in epochs)


def test_small_data_raises_a_networks_epochs_and_epoch_limit_caps_them():
    task = TASKS[TaskKind.BINARY]
    raised = catalog.get("cnn").build({}, task, 0)
    capped = catalog.get("cnn").build({"epoch_limit": 3}, task, 0)
    assert raised.planned_epochs(40) > raised.max_epochs  # 40 rows: one step an epoch
    assert capped.planned_epochs(40) == 3


def test_a_network_with_an_epoch_limit_trains_no_more_epochs_than_it():
    X, y = _data("cnn", TaskKind.BINARY, n_rows=40)
    estimator = catalog.get("cnn").build({**SMALL["cnn"], "epoch_limit": 3},
                                         TASKS[TaskKind.BINARY], 0)
    assert len(estimator.fit(X, y).history_["epochs"]) == 3
