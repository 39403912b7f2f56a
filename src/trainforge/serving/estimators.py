"""Fitted estimators compiled into direct calls: one table from estimator type to compiler.

Each entry of ``COMPILERS`` names an estimator type by its public import path and gives the
function that builds a call computing that estimator's own numbers from the preprocessed
columns, without its per-call set-up (input validation, a DMatrix, a thread pool). Adding a
fast path is adding one entry. The match is on the exact type (a subclass may predict
differently), and a compiler returns None for a configuration it does not reproduce. An
estimator with no entry, or refused by its compiler, is served by its own
``predict_proba``/``predict``: ``compile_estimator`` says which, so the caller can log it.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainforge.serving.booster_row import single_row_predictor
from trainforge.serving.catboost_trees import catboost_walker
from trainforge.serving.forests import MAX_WALK_ROWS, forest_walker
from trainforge.serving.plans import Column
from trainforge.serving.xgboost_trees import xgboost_walker

# an estimator's output (probabilities or values) for the preprocessed columns of n rows
ColumnsCall = Callable[[list[Column]], np.ndarray]


@dataclass(frozen=True)
class Output:
    """What a member answers: probabilities over ``n_classes`` (classify), or values."""

    classify: bool
    n_classes: int


Compiler = Callable[[Any, Output], ColumnsCall | None]


def _matrix(columns: list[Column]) -> np.ndarray:
    if len(columns[0]) == 1:  # one row: a flat list is much cheaper than a list of lists
        return np.array([c[0] for c in columns], dtype="float64").reshape(1, -1)
    return np.array(columns, dtype="float64").T


def _as_probabilities(raw: ColumnsCall, n_classes: int) -> ColumnsCall:
    if n_classes == 2:
        def binary(columns: list[Column]) -> np.ndarray:
            positive = raw(columns).reshape(-1)
            return np.column_stack([1.0 - positive, positive])
        return binary
    return lambda columns: raw(columns).reshape(-1, n_classes)


def _values(raw: ColumnsCall) -> ColumnsCall:
    return lambda columns: raw(columns).reshape(-1)


# ---- LightGBM ---------------------------------------------------------------------------------
def _booster_call(booster: Any, num_iteration: int | None) -> ColumnsCall:
    """LightGBM's raw output: the C fast path for one row, ``Booster.predict`` for more."""
    one_row = single_row_predictor(booster, num_iteration)

    def call(columns: list[Column]) -> np.ndarray:
        if one_row is not None and len(columns[0]) == 1:
            return np.array(one_row([c[0] for c in columns]), dtype="float64").reshape(1, -1)
        # one thread: a few rows are slower through the thread pool, and on a shared
        # machine its spinning threads steal the CPU the server needs
        return np.asarray(booster.predict(_matrix(columns), num_iteration=num_iteration,
                                          num_threads=1), dtype="float64")

    return call


def _lightgbm_model(estimator: Any, output: Output) -> ColumnsCall | None:
    raw = _booster_call(estimator.booster_, estimator.best_iteration_)
    if estimator.task_kind == "regression":
        return _values(raw)
    return _as_probabilities(raw, output.n_classes)


# ---- XGBoost and CatBoost ---------------------------------------------------------------------
def _xgboost_model(estimator: Any, output: Output) -> ColumnsCall | None:
    """Walked trees for a few rows; ``inplace_predict`` (no DMatrix per request) for more."""
    booster, rounds = estimator.booster_, (0, int(estimator.best_iteration_))
    walk = xgboost_walker(booster, rounds[1]) if estimator.task_kind != "multiclass" else None

    def raw(columns: list[Column]) -> np.ndarray:
        if walk is not None and len(columns[0]) <= MAX_WALK_ROWS:
            return walk(_matrix(columns))
        return np.asarray(booster.inplace_predict(_matrix(columns), iteration_range=rounds),
                          dtype="float64")

    if estimator.task_kind == "regression":
        return _values(raw)
    return _as_probabilities(raw, output.n_classes)


def _catboost_model(estimator: Any, output: Output) -> ColumnsCall | None:
    """CatBoost's trees evaluated directly for a few rows; its own predict for more."""
    if estimator.task_kind == "multiclass":
        return None
    loss = "RMSE" if estimator.task_kind == "regression" else "Logloss"
    if str(estimator.booster_.get_params().get("loss_function", loss)) != loss:
        return None
    walk = catboost_walker(estimator.booster_, loss)
    if walk is None:
        return None

    def call(columns: list[Column]) -> np.ndarray:
        matrix = _matrix(columns)
        if estimator.task_kind == "regression":
            small = len(matrix) <= MAX_WALK_ROWS
            return walk(matrix) if small else np.asarray(estimator.predict(matrix))
        if len(matrix) > MAX_WALK_ROWS:
            return np.asarray(estimator.predict_proba(matrix), dtype="float64")
        positive = walk(matrix)
        return np.column_stack([1.0 - positive, positive])

    return call


# ---- scikit-learn -----------------------------------------------------------------------------
def _linear_scores(estimator: Any) -> ColumnsCall:
    """The linear model's formula, without the per-call input validation (~0.1 ms): the same
    products in the same order."""
    coef = estimator.coef_.T if estimator.coef_.ndim == 2 else estimator.coef_
    intercept = estimator.intercept_

    def scores(columns: list[Column]) -> np.ndarray:
        # values near float64's limit overflow to inf or NaN: served.scored_outputs refuses
        # those records with a 422, so numpy's warning would only fill the server log
        with np.errstate(over="ignore", invalid="ignore"):
            out = np.asarray(_matrix(columns) @ coef + intercept, dtype="float64")
        return out.reshape(-1) if out.ndim > 1 and out.shape[1] == 1 else out

    return scores


def _linear(estimator: Any, output: Output) -> ColumnsCall | None:
    return _linear_scores(estimator)


def _logistic(estimator: Any, output: Output) -> ColumnsCall | None:
    """scikit-learn's logistic link and normalisation, in its order."""
    from scipy.special import expit

    scores = _linear_scores(estimator)
    if len(estimator.classes_) <= 2:
        def binary(columns: list[Column]) -> np.ndarray:
            positive = expit(scores(columns))
            return np.stack([1 - positive, positive], axis=1)
        return binary

    def softmax(columns: list[Column]) -> np.ndarray:
        decision = scores(columns)
        with np.errstate(invalid="ignore"):  # inf - inf is NaN: refused (scored_outputs)
            decision -= decision.max(axis=1).reshape(-1, 1)
            np.exp(decision, out=decision)
            decision /= decision.sum(axis=1).reshape(-1, 1)
        return decision

    return softmax


def _forest(estimator: Any, output: Output) -> ColumnsCall | None:
    """Walked trees for a few rows; the forest's own predict, in one thread, for more."""
    walk = forest_walker(estimator, classify=output.classify)
    if walk is None:
        return None
    own = own_predict(estimator, output)

    def call(columns: list[Column]) -> np.ndarray:
        return walk(_matrix(columns)) if len(columns[0]) <= MAX_WALK_ROWS else own(columns)

    return call


COMPILERS: dict[str, Compiler] = {
    "trainforge.algorithms.boosting.LightGBMModel": _lightgbm_model,
    "trainforge.algorithms.boosting.XGBoostModel": _xgboost_model,
    "trainforge.algorithms.boosting.CatBoostModel": _catboost_model,
    "sklearn.linear_model.LogisticRegression": _logistic,
    "sklearn.linear_model.Ridge": _linear,
    "sklearn.ensemble.RandomForestClassifier": _forest,
    "sklearn.ensemble.RandomForestRegressor": _forest,
    "sklearn.ensemble.ExtraTreesClassifier": _forest,
    "sklearn.ensemble.ExtraTreesRegressor": _forest,
}


def compiler_for(estimator: Any, table: dict[str, Compiler] = COMPILERS) -> Compiler | None:
    """The table's compiler for exactly ``estimator``'s type, or None."""
    kind = type(estimator)
    for path, compiler in table.items():
        module, _, name = path.rpartition(".")
        # the name first: a module is imported only when it may hold the type, and then it
        # is the estimator's own library, loaded already
        if name == kind.__name__ and _type_at(module, name) is kind:
            return compiler
    return None


def _type_at(module: str, name: str) -> object:
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:  # a library not installed holds no type a loaded model has
        return None


def own_predict(estimator: Any, output: Output) -> ColumnsCall:
    """The estimator's own ``predict_proba`` (classify) or ``predict``, in the calling thread:
    for a few rows a thread pool costs far more than it saves (a 2-job, 300-tree forest:
    ~30 ms for one row, ~20 ms in one)."""
    if getattr(estimator, "n_jobs", None) not in (None, 1):
        estimator = copy.copy(estimator)  # shallow: shares the fitted state, leaves it as is
        estimator.n_jobs = 1
    predict = estimator.predict_proba if output.classify else estimator.predict
    return lambda columns: np.asarray(predict(_matrix(columns)), dtype="float64")


def compile_estimator(estimator: Any, output: Output) -> tuple[ColumnsCall, bool]:
    """A call giving ``estimator``'s numbers, and whether it is compiled (False: the
    estimator's own predict, because no compiler knows its type or its configuration)."""
    compiler = compiler_for(estimator)
    call = compiler(estimator, output) if compiler is not None else None
    return (call, True) if call is not None else (own_predict(estimator, output), False)
