"""The fast path: a fitted model compiled into plain-Python column plans and a direct model call.

Building a one-row DataFrame and running the preprocessor's ``transform`` costs about 0.7 ms;
the booster itself about 0.02 ms. So for small requests the served model skips pandas: its
preprocessing is compiled once (``plans``) and LightGBM boosters are called directly. A step the
compiler does not know makes ``compile_model`` return None, and the model is served through
``TabularModel`` (pandas) instead. ``verify`` compares both paths on probe records before the
fast path is trusted.
"""

from __future__ import annotations

import copy
import logging
import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from trainforge.algorithms.model import FeatureSpec, Member, TabularModel, probabilities_from_blend
from trainforge.serving.booster_row import single_row_predictor
from trainforge.serving.catboost_trees import catboost_walker
from trainforge.serving.forests import MAX_WALK_ROWS, forest_walker
from trainforge.serving.plans import (
    Column,
    ColumnsFn,
    FastPathMiss,
    Unsupported,
    compile_preprocessor,
    known_categories,
)
from trainforge.serving.xgboost_trees import xgboost_walker

log = logging.getLogger(__name__)

# an estimator's output (probabilities or values) for the preprocessed columns of n rows
ColumnsCall = Callable[[list[Column]], np.ndarray]


def _matrix(columns: list[Column]) -> np.ndarray:
    if len(columns[0]) == 1:  # one row: a flat list is much cheaper than a list of lists
        return np.array([c[0] for c in columns], dtype="float64").reshape(1, -1)
    return np.array(columns, dtype="float64").T


# ---- estimators -------------------------------------------------------------------------------
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


def _as_probabilities(raw: ColumnsCall, n_classes: int) -> ColumnsCall:
    if n_classes == 2:
        def binary(columns: list[Column]) -> np.ndarray:
            positive = raw(columns).reshape(-1)
            return np.column_stack([1.0 - positive, positive])
        return binary
    return lambda columns: raw(columns).reshape(-1, n_classes)


def _lightgbm_call(estimator: Any, *, classify: bool, n_classes: int) -> ColumnsCall | None:
    """LightGBM's booster called directly, for the estimators whose output we know exactly."""
    import lightgbm

    from trainforge.algorithms.boosting import LightGBMModel

    if type(estimator) is LightGBMModel:
        raw = _booster_call(estimator.booster_, estimator.best_iteration_)
        if estimator.task_kind == "regression":
            return lambda columns: raw(columns).reshape(-1)
        return _as_probabilities(raw, n_classes)
    if type(estimator) not in (lightgbm.LGBMClassifier, lightgbm.LGBMRegressor):
        return None
    if callable(estimator.objective):
        return None
    # the best iteration, as LGBMModel.predict uses when not told otherwise
    raw = _booster_call(estimator.booster_, estimator.booster_.best_iteration or None)
    if not classify:
        return lambda columns: raw(columns).reshape(-1)
    if list(estimator.classes_) != list(range(n_classes)):
        return None
    return _as_probabilities(raw, n_classes)


def _single_threaded(estimator: Any) -> Any:
    """The estimator predicting in the calling thread: for a few rows a thread pool costs
    far more than it saves (a 2-job, 300-tree forest: ~30 ms for one row, ~20 ms in one)."""
    if getattr(estimator, "n_jobs", None) in (None, 1):
        return estimator
    serial = copy.copy(estimator)  # shallow: shares the fitted trees, leaves the model as is
    serial.n_jobs = 1
    return serial


def _xgboost_call(estimator: Any, n_classes: int) -> ColumnsCall | None:
    """XGBoost without building a DMatrix per request (``inplace_predict``, same numbers)."""
    from trainforge.algorithms.boosting import XGBoostModel

    if type(estimator) is not XGBoostModel:
        return None
    booster, rounds = estimator.booster_, (0, int(estimator.best_iteration_))
    walk = xgboost_walker(booster, rounds[1]) if estimator.task_kind != "multiclass" else None

    def raw(columns: list[Column]) -> np.ndarray:
        if walk is not None and len(columns[0]) <= MAX_WALK_ROWS:
            return walk(_matrix(columns))
        return np.asarray(booster.inplace_predict(_matrix(columns), iteration_range=rounds),
                          dtype="float64")

    if estimator.task_kind == "regression":
        return lambda columns: raw(columns).reshape(-1)
    return _as_probabilities(raw, n_classes)


def _linear_call(estimator: Any) -> ColumnsCall | None:
    """scikit-learn's logistic and ridge regression as their formulas, without the per-call
    input validation (~0.1 ms): the same products, link and normalisation, in the same order."""
    from scipy.special import expit
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

    if type(estimator) not in (LogisticRegression, Ridge, LinearRegression):
        return None
    coef = estimator.coef_.T if estimator.coef_.ndim == 2 else estimator.coef_
    intercept = estimator.intercept_

    def scores(columns: list[Column]) -> np.ndarray:
        # values near float64's limit overflow to inf or NaN: served.unscored answers null
        # for those rows, so numpy's warning would only fill the server log
        with np.errstate(over="ignore", invalid="ignore"):
            out = np.asarray(_matrix(columns) @ coef + intercept, dtype="float64")
        return out.reshape(-1) if out.ndim > 1 and out.shape[1] == 1 else out

    if type(estimator) is not LogisticRegression:
        return scores
    if len(estimator.classes_) <= 2:
        def binary(columns: list[Column]) -> np.ndarray:
            positive = expit(scores(columns))
            return np.stack([1 - positive, positive], axis=1)
        return binary

    def softmax(columns: list[Column]) -> np.ndarray:
        decision = scores(columns)
        with np.errstate(invalid="ignore"):  # inf - inf is NaN: a row served.unscored blanks
            decision -= decision.max(axis=1).reshape(-1, 1)
            np.exp(decision, out=decision)
            decision /= decision.sum(axis=1).reshape(-1, 1)
        return decision

    return softmax


def _catboost_call(estimator: Any) -> ColumnsCall | None:
    """CatBoost's trees evaluated directly for a few rows; its own predict for more."""
    from trainforge.algorithms.boosting import CatBoostModel

    if type(estimator) is not CatBoostModel or estimator.task_kind == "multiclass":
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


def _estimator_call(estimator: Any, *, classify: bool, n_classes: int) -> ColumnsCall:
    direct = (_lightgbm_call(estimator, classify=classify, n_classes=n_classes)
              or _xgboost_call(estimator, n_classes) or _linear_call(estimator)
              or _catboost_call(estimator))
    if direct is not None:
        return direct
    estimator = _single_threaded(estimator)
    predict = estimator.predict_proba if classify else estimator.predict
    walk = forest_walker(estimator, classify=classify)

    def call(columns: list[Column]) -> np.ndarray:
        if walk is not None and len(columns[0]) <= MAX_WALK_ROWS:
            return walk(_matrix(columns))
        return np.asarray(predict(_matrix(columns)), dtype="float64")

    return call


# ---- the model --------------------------------------------------------------------------------
def _to_model_values(spec: FeatureSpec) -> Callable[[Column], Column]:
    """The per-column conversion ``coerce_frame`` applies, on validated request values."""
    if spec.dtype == "number":
        return lambda col: [math.nan if v is None else float(v) for v in col]
    if spec.dtype == "boolean":
        return lambda col: [None if v is None else str(v) for v in col]
    if spec.dtype == "string":
        return _identity_column
    raise Unsupported(f"{spec.dtype} feature {spec.name!r}")


def _identity_column(column: Column) -> Column:
    return column


class CompiledModel:
    """A TabularModel's blend, computed from validated columns without pandas."""

    def __init__(self, model: TabularModel) -> None:
        self.model = model
        self.classify = model.task.kind.is_classification
        self._names = [spec.name for spec in model.features]
        self._convert = [_to_model_values(spec) for spec in model.features]
        n_classes = len(model.classes)
        total = sum(m.weight for m in model.members)
        # members often share one fitted preprocessor: compile and run each only once
        transforms: dict[int, int] = {}
        self._transforms: list[ColumnsFn] = []
        self._members: list[tuple[float, int, ColumnsCall]] = []
        for m in model.members:
            if id(m.preprocessor) not in transforms:
                transforms[id(m.preprocessor)] = len(self._transforms)
                self._transforms.append(compile_preprocessor(m.preprocessor, self._names))
            self._members.append((m.weight / total, transforms[id(m.preprocessor)],
                                  _estimator_call(m.estimator, classify=self.classify,
                                                  n_classes=n_classes)))

    def blend(self, columns: dict[str, Column]) -> np.ndarray:
        """Same numbers as ``TabularModel`` gives: probabilities, or values for a regressor."""
        inputs = [convert(columns[name]) for convert, name in zip(self._convert, self._names,
                                                                 strict=True)]
        prepared = [transform(inputs) for transform in self._transforms]
        blended: np.ndarray | None = None
        for share, which, call in self._members:
            part = call(prepared[which]) * share
            blended = part if blended is None else blended + part
        assert blended is not None  # a model always has at least one member
        return probabilities_from_blend(blended) if self.classify else blended


def compile_model(model: TabularModel) -> CompiledModel | None:
    """The fast path for ``model``, or None when one of its steps is not compilable."""
    try:
        return CompiledModel(model)
    except Unsupported as reason:
        log.info("serving %s through pandas: cannot compile %s", _describe(model.members), reason)
        return None


def _describe(members: Sequence[Member]) -> str:
    counts = Counter(m.algorithm for m in members)
    return ", ".join(f"{n}×{name}" if n > 1 else name for name, n in counts.items())


# ---- trust, but verify ------------------------------------------------------------------------
def probe_columns(model: TabularModel) -> dict[str, Column]:
    """A few records touching known and unseen categories, numbers and missing values."""
    known: dict[str, list[Any]] = {}
    for member in model.members:
        known.update(known_categories(member.preprocessor))
    numbers: Column = [1.0, 37.5, -2.0, None, 0.0]
    columns: dict[str, Column] = {}
    for spec in model.features:
        if spec.dtype == "number":
            columns[spec.name] = numbers
        elif spec.dtype == "boolean":
            columns[spec.name] = [True, False, True, None, False]
        else:
            seen = [str(v) for v in known.get(spec.name, [])][:3]
            columns[spec.name] = (seen + ["an unseen value", None] * 3)[:5]
    return columns


def verify(compiled: CompiledModel, columns: dict[str, Column]) -> bool:
    """Whether the fast path gives the model's own numbers on each row of ``columns``.

    Rows the model itself refuses (an unseen category with ``handle_unknown="error"``) are
    skipped; at least one row must be compared for the fast path to be trusted.
    """
    import pandas as pd

    model = compiled.model
    n_rows = len(next(iter(columns.values()), []))
    compared = 0
    for row in range(n_rows):
        one = {name: values[row:row + 1] for name, values in columns.items()}
        try:
            frame = pd.DataFrame(one)
            expected = model.predict_proba(frame) if compiled.classify else model.predict(frame)
        except Exception:
            log.debug("probe record %d refused by the model itself", row, exc_info=True)
            continue
        try:
            got = compiled.blend(one)
        except FastPathMiss:
            continue  # a value the fast path hands to the model itself: nothing to compare
        except Exception:  # any failure means the fast path is not trusted
            log.warning("fast path disabled: it failed on a probe record", exc_info=True)
            return False
        if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-9, atol=1e-12):
            log.warning("fast path disabled: it differs from the model on a probe record")
            return False
        compared += 1
    return compared > 0
