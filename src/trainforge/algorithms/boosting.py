"""Gradient-boosted trees: LightGBM, XGBoost and CatBoost, each behind a small estimator.

The estimators follow scikit-learn's contract (``__init__`` stores hyperparameters, ``fit``
returns ``self``, learned state ends in ``_``) and save to their library's own file format
(``save_native`` / ``load_native``), which the registry stores instead of a pickle.

``fit(X, y, eval_set=(X_valid, y_valid))`` early-stops on the validation rows and keeps the
best iteration; ``stop_at`` (a ``time.monotonic()`` value) ends training at that time with the
trees built so far, so a search never overruns its budget inside one fit.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import ClassifierTags, RegressorTags, Tags
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if

from trainforge.algorithms.catalog import Algorithm, n_threads
from trainforge.algorithms.estimator_input import (
    Accepts,
    prediction_input,
    training_input,
    validation_input,
)
from trainforge.data.task import SUPERVISED_KINDS, Task

EvalSet = tuple[Any, np.ndarray]
# "balanced" (every class weighs the same in total), a weight per class code, or None
ClassWeight = str | dict[int, float] | None

# below this many rows a prediction runs on one thread: starting the OpenMP team costs more
# than it saves (a one-row LightGBM predict: ~10 ms on 2 threads, ~0.05 ms on one)
FEW_ROWS = 1_000


def predict_threads(X: Any, n_threads: int) -> int:
    """Threads for predicting ``X``: one for a few rows, else the training threads."""
    return 1 if X.shape[0] < FEW_ROWS else max(1, int(n_threads))  # X may be sparse


def _is_classifier(estimator: _Boosting) -> bool:
    return estimator.task_kind != "regression"


class _Boosting(BaseEstimator):  # type: ignore[misc]
    """What the three wrappers share: the checks of what comes in, the task's output shape and
    the native-format files. A classifier learns the class codes 0..n_classes-1 (``classes_``)."""

    library: ClassVar[str]
    suffix: ClassVar[str]
    accepts: ClassVar[Accepts] = Accepts()
    task_kind: str
    n_classes: int
    class_weight: ClassWeight

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # a missing value: the trees learn where it goes
        tags.input_tags.sparse = True  # the TF-IDF of text columns
        if _is_classifier(self):
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags(multi_class=self.task_kind == "multiclass")
        else:
            tags.estimator_type = "regressor"
            tags.regressor_tags = RegressorTags()
        return tags

    def _codes(self) -> int | None:
        """The number of class codes ``y`` may hold; None for a regressor's numbers."""
        return int(self.n_classes) if _is_classifier(self) else None

    def _training_rows(self, X: Any, y: Any,
                       eval_set: EvalSet | None) -> tuple[Any, np.ndarray, EvalSet | None]:
        """The checked training rows and validation rows; sets ``n_features_in_`` and, for a
        classifier, ``classes_``."""
        X, y = training_input(self, X, y, n_classes=self._codes(), accepts=self.accepts)
        if eval_set is not None:
            eval_set = validation_input(self, *eval_set, n_classes=self._codes(),
                                        accepts=self.accepts)
        if _is_classifier(self):
            self.classes_ = np.arange(int(self.n_classes))
        return X, y, eval_set

    @available_if(_is_classifier)  # type: ignore[untyped-decorator]  # sklearn is untyped
    def predict_proba(self, X: Any) -> np.ndarray:
        raw = np.asarray(self._raw(prediction_input(self, X, accepts=self.accepts)), dtype=np.float64)
        if self.task_kind == "binary":
            positive = raw.reshape(-1)
            return np.column_stack([1.0 - positive, positive])
        return raw.reshape(-1, self.n_classes)

    def predict(self, X: Any) -> np.ndarray:
        if self.task_kind == "regression":
            return np.asarray(self._raw(prediction_input(self, X, accepts=self.accepts)),
                              dtype=np.float64).reshape(-1)
        return np.asarray(self.predict_proba(X).argmax(axis=1))

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy for a classifier, R² for a regressor: scikit-learn's default scores."""
        if _is_classifier(self):
            return float(accuracy_score(y, self.predict(X), sample_weight=sample_weight))
        return float(r2_score(y, self.predict(X), sample_weight=sample_weight))

    def _raw(self, X: Any) -> np.ndarray:
        raise NotImplementedError

    def _weights(self, y: np.ndarray) -> np.ndarray | None:
        """Row weights from ``class_weight``: "balanced" makes every class present weigh the
        same in total; a dict gives each class code its weight. None: all rows alike."""
        if self.class_weight is None or self.task_kind == "regression":
            return None
        return np.asarray(compute_sample_weight(self.class_weight, y), dtype=np.float64)

    def set_rounds(self, best_iteration: int, *, data_fraction: float) -> None:
        """For a refit on more rows than the early-stopped fit saw: a few more trees."""
        self.set_params(n_estimators=refit_rounds(best_iteration, data_fraction=data_fraction))

    def save_native(self, directory: Path, stem: str) -> list[str]:
        """Write the model in the library's format plus a JSON of the estimator's settings."""
        model_file = f"{stem}.{self.suffix}"
        self._save_model(directory / model_file)
        settings = {"library": self.library, "params": self.get_params(),
                    "best_iteration": int(self.best_iteration_), "model_file": model_file}
        (directory / f"{stem}.json").write_text(json.dumps(settings, indent=1, sort_keys=True))
        return [model_file, f"{stem}.json"]

    @classmethod
    def load_native(cls, directory: Path, stem: str) -> Self:
        settings = json.loads((directory / f"{stem}.json").read_text())
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in
                  settings["params"].items()}
        estimator = cls(**params)
        estimator.best_iteration_ = int(settings["best_iteration"])
        estimator.stopped_by_time_ = False
        estimator._load_model(directory / settings["model_file"])
        # read from the booster, so packages written before these attributes load alike
        estimator.n_features_in_ = estimator._n_features()
        if _is_classifier(estimator):
            estimator.classes_ = np.arange(int(estimator.n_classes))
        return estimator

    def _n_features(self) -> int:
        raise NotImplementedError

    def _save_model(self, path: Path) -> None:
        raise NotImplementedError

    def _load_model(self, path: Path) -> None:
        raise NotImplementedError


# ---- LightGBM -------------------------------------------------------------------------------
class LightGBMModel(_Boosting):
    """LightGBM's gradient boosting; ``categorical_features`` are column positions holding
    ordinal category codes, split on as categories."""

    library = "lightgbm"
    suffix = "lgb.txt"

    def __init__(self, *, task_kind: str = "binary", n_classes: int = 2,
                 n_estimators: int = 2000, learning_rate: float = 0.1, num_leaves: int = 31,
                 min_child_samples: int = 20, feature_fraction: float = 0.9,
                 bagging_fraction: float = 1.0, lambda_l1: float = 0.0, lambda_l2: float = 0.0,
                 extra_trees: bool = False, early_stopping_rounds: int = 50,
                 categorical_features: tuple[int, ...] = (), class_weight: ClassWeight = None,
                 seed: int = 0, n_threads: int = 2) -> None:
        self.task_kind = task_kind
        self.n_classes = n_classes
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.bagging_fraction = bagging_fraction
        self.lambda_l1 = lambda_l1
        self.lambda_l2 = lambda_l2
        self.extra_trees = extra_trees
        self.early_stopping_rounds = early_stopping_rounds
        self.categorical_features = categorical_features
        self.class_weight = class_weight
        self.seed = seed
        self.n_threads = n_threads

    def _params(self) -> dict[str, Any]:
        objective = {"binary": "binary", "multiclass": "multiclass",
                     "regression": "regression"}[self.task_kind]
        params: dict[str, Any] = {
            "objective": objective, "learning_rate": self.learning_rate,
            "num_leaves": int(self.num_leaves), "min_data_in_leaf": int(self.min_child_samples),
            "feature_fraction": self.feature_fraction, "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1 if self.bagging_fraction < 1.0 else 0,
            "lambda_l1": self.lambda_l1, "lambda_l2": self.lambda_l2,
            "extra_trees": bool(self.extra_trees), "seed": self.seed,
            "num_threads": self.n_threads, "deterministic": True, "force_row_wise": True,
            "verbosity": -1, "min_data_per_group": 20, "cat_smooth": 10.0}
        if self.task_kind == "multiclass":
            params["num_class"] = self.n_classes
        return params

    def fit(self, X: Any, y: Any, *, eval_set: EvalSet | None = None,
            stop_at: float | None = None) -> Self:
        import lightgbm as lgb

        X, y, eval_set = self._training_rows(X, y, eval_set)
        categorical: Any = list(self.categorical_features) or "auto"
        train = lgb.Dataset(X, y, weight=self._weights(y),
                            categorical_feature=categorical, params={"verbosity": -1},
                            free_raw_data=True)
        valid_sets: list[Any] = []
        callbacks: list[Any] = []
        if eval_set is not None:
            valid_sets = [lgb.Dataset(eval_set[0], eval_set[1], reference=train,
                                      weight=self._weights(eval_set[1]),
                                      categorical_feature=categorical)]
            callbacks.append(lgb.early_stopping(self.early_stopping_rounds, verbose=False))
        self.stopped_by_time_ = False
        if stop_at is not None:
            callbacks.append(self._deadline(stop_at))
        booster = lgb.train(self._params(), train, num_boost_round=int(self.n_estimators),
                            valid_sets=valid_sets, callbacks=callbacks)
        self.best_iteration_ = int(booster.best_iteration or booster.current_iteration())
        self.booster_ = booster
        return self

    def _deadline(self, stop_at: float) -> Any:
        import lightgbm as lgb

        def stop_when_late(env: Any) -> None:
            if time.monotonic() > stop_at:
                self.stopped_by_time_ = True
                raise lgb.callback.EarlyStopException(env.iteration,
                                                      env.evaluation_result_list or [])

        stop_when_late.order = 100  # type: ignore[attr-defined]
        return stop_when_late

    def _raw(self, X: Any) -> np.ndarray:
        return np.asarray(self.booster_.predict(X, num_iteration=self.best_iteration_,
                                                num_threads=predict_threads(X, self.n_threads)))

    def _save_model(self, path: Path) -> None:
        self.booster_.save_model(str(path), num_iteration=self.best_iteration_)

    def _load_model(self, path: Path) -> None:
        import lightgbm as lgb

        self.booster_ = lgb.Booster(model_file=str(path))

    def _n_features(self) -> int:
        return int(self.booster_.num_feature())


# ---- XGBoost --------------------------------------------------------------------------------
class XGBoostModel(_Boosting):
    """XGBoost's histogram gradient boosting."""

    library = "xgboost"
    suffix = "xgb.ubj"

    def __init__(self, *, task_kind: str = "binary", n_classes: int = 2,
                 n_estimators: int = 2000, learning_rate: float = 0.1, max_depth: int = 6,
                 min_child_weight: float = 1.0, subsample: float = 1.0,
                 colsample_bytree: float = 1.0, reg_lambda: float = 1.0, reg_alpha: float = 0.0,
                 early_stopping_rounds: int = 50, class_weight: ClassWeight = None,
                 seed: int = 0, n_threads: int = 2) -> None:
        self.task_kind = task_kind
        self.n_classes = n_classes
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.reg_alpha = reg_alpha
        self.early_stopping_rounds = early_stopping_rounds
        self.class_weight = class_weight
        self.seed = seed
        self.n_threads = n_threads

    def _params(self) -> dict[str, Any]:
        objective = {"binary": "binary:logistic", "multiclass": "multi:softprob",
                     "regression": "reg:squarederror"}[self.task_kind]
        params: dict[str, Any] = {
            "objective": objective, "eta": self.learning_rate, "max_depth": int(self.max_depth),
            "min_child_weight": self.min_child_weight, "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree, "lambda": self.reg_lambda,
            "alpha": self.reg_alpha, "tree_method": "hist", "nthread": self.n_threads,
            "seed": self.seed, "verbosity": 0}
        if self.task_kind == "multiclass":
            params["num_class"] = self.n_classes
        return params

    def fit(self, X: Any, y: Any, *, eval_set: EvalSet | None = None,
            stop_at: float | None = None) -> Self:
        import xgboost as xgb

        X, y, eval_set = self._training_rows(X, y, eval_set)
        train = xgb.DMatrix(X, label=y, weight=self._weights(y), nthread=self.n_threads)
        evals = []
        if eval_set is not None:
            evals = [(xgb.DMatrix(eval_set[0], label=eval_set[1],
                                  weight=self._weights(eval_set[1]), nthread=self.n_threads),
                      "valid")]
        self.stopped_by_time_ = False
        callbacks = [] if stop_at is None else [_xgboost_deadline(stop_at, self)]
        booster = xgb.train(self._params(), train, num_boost_round=int(self.n_estimators),
                            evals=evals, verbose_eval=False, callbacks=callbacks,
                            early_stopping_rounds=self.early_stopping_rounds if evals else None)
        best = getattr(booster, "best_iteration", None) if evals else None
        self.best_iteration_ = int(best + 1) if best is not None else booster.num_boosted_rounds()
        self.booster_ = booster
        return self

    def _raw(self, X: Any) -> np.ndarray:
        import xgboost as xgb

        threads = predict_threads(X, self.n_threads)
        # the booster keeps its training threads; set per call (the numbers do not depend on it)
        self.booster_.set_param({"nthread": threads})
        matrix = xgb.DMatrix(X, nthread=threads)
        return np.asarray(self.booster_.predict(matrix, iteration_range=(0,
                                                                         self.best_iteration_)))

    def _save_model(self, path: Path) -> None:
        self.booster_.save_model(str(path))

    def _load_model(self, path: Path) -> None:
        import xgboost as xgb

        self.booster_ = xgb.Booster()
        self.booster_.load_model(str(path))

    def _n_features(self) -> int:
        return int(self.booster_.num_features())


def _xgboost_deadline(stop_at: float, owner: XGBoostModel) -> Any:
    """A TrainingCallback that stops XGBoost's loop at ``stop_at``."""
    import xgboost as xgb

    class Deadline(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            late = time.monotonic() > stop_at
            owner.stopped_by_time_ = owner.stopped_by_time_ or late
            return late

    return Deadline()


# ---- CatBoost -------------------------------------------------------------------------------
class CatBoostModel(_Boosting):
    """CatBoost's ordered boosting on oblivious trees."""

    library = "catboost"
    suffix = "cbm"
    # CatBoost reads CSR with 32-bit indices only; one row makes every feature constant,
    # which it refuses
    accepts = Accepts(large_sparse=False, min_rows=2)

    def __init__(self, *, task_kind: str = "binary", n_classes: int = 2,
                 n_estimators: int = 1500, learning_rate: float = 0.08, depth: int = 6,
                 l2_leaf_reg: float = 3.0, random_strength: float = 1.0,
                 early_stopping_rounds: int = 50, class_weight: ClassWeight = None,
                 seed: int = 0, n_threads: int = 2) -> None:
        self.task_kind = task_kind
        self.n_classes = n_classes
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.depth = depth
        self.l2_leaf_reg = l2_leaf_reg
        self.random_strength = random_strength
        self.early_stopping_rounds = early_stopping_rounds
        self.class_weight = class_weight
        self.seed = seed
        self.n_threads = n_threads

    def _params(self) -> dict[str, Any]:
        loss = {"binary": "Logloss", "multiclass": "MultiClass",
                "regression": "RMSE"}[self.task_kind]
        params: dict[str, Any] = {
            "loss_function": loss, "iterations": int(self.n_estimators),
            "learning_rate": self.learning_rate, "depth": int(self.depth),
            "l2_leaf_reg": self.l2_leaf_reg, "random_strength": self.random_strength,
            "random_seed": self.seed, "thread_count": self.n_threads, "verbose": False,
            "allow_writing_files": False}
        if self.task_kind == "multiclass":
            params["class_names"] = list(range(self.n_classes))
        return params

    def fit(self, X: Any, y: Any, *, eval_set: EvalSet | None = None,
            stop_at: float | None = None) -> Self:
        from catboost import CatBoost

        X, y, eval_set = self._training_rows(X, y, eval_set)
        if _is_classifier(self) and len(np.unique(y)) < 2:
            raise ValueError("CatBoost needs at least two classes in y; it holds one class")
        X = _sparse_matrix(X)
        model = CatBoost(self._params())
        self.stopped_by_time_ = False
        callbacks = None if stop_at is None else [_CatBoostDeadline(stop_at, self)]
        extra: dict[str, Any] = {}
        if eval_set is not None:
            from catboost import Pool

            valid = Pool(_sparse_matrix(eval_set[0]), eval_set[1], weight=self._weights(eval_set[1]))
            extra = {"eval_set": valid, "use_best_model": True,
                     "early_stopping_rounds": self.early_stopping_rounds}
        model.fit(X, y, sample_weight=self._weights(y), callbacks=callbacks, **extra)
        self.best_iteration_ = int(model.tree_count_)
        self.booster_ = model
        return self

    def _raw(self, X: Any) -> np.ndarray:
        kind = "RawFormulaVal" if self.task_kind == "regression" else "Probability"
        raw = np.asarray(self.booster_.predict(_sparse_matrix(X), prediction_type=kind,
                                               thread_count=predict_threads(X, self.n_threads)))
        return raw[:, 1] if self.task_kind == "binary" else raw

    def _save_model(self, path: Path) -> None:
        self.booster_.save_model(str(path), format="cbm")

    def _load_model(self, path: Path) -> None:
        from catboost import CatBoost

        self.booster_ = CatBoost()
        self.booster_.load_model(str(path), format="cbm")

    def _n_features(self) -> int:
        return len(self.booster_.feature_names_)

    def native_bytes(self) -> int:
        """What the fitted booster holds in CatBoost's own memory, estimated from its leaf
        values: measured ~0.8 MB a model plus ~24 bytes a leaf value (the library keeps
        them repacked for prediction). A 6-class model of ~900 trees holds 8-11 MB, ten of
        them a cross-validated trial's 80-110 MB."""
        return _CATBOOST_MODEL_BYTES + _CATBOOST_LEAF_VALUE_BYTES * int(
            self.booster_.get_leaf_values().size)


_CATBOOST_MODEL_BYTES = 800 << 10
_CATBOOST_LEAF_VALUE_BYTES = 24


def _sparse_matrix(X: Any) -> Any:
    """A scipy sparse *array* as the sparse matrix CatBoost takes; anything else as it is."""
    return sp.csr_matrix(X) if sp.issparse(X) and not sp.isspmatrix(X) else X


class _CatBoostDeadline:
    def __init__(self, stop_at: float, owner: CatBoostModel) -> None:
        self.stop_at, self.owner = stop_at, owner

    def after_iteration(self, info: Any) -> bool:
        late = time.monotonic() > self.stop_at
        self.owner.stopped_by_time_ = self.owner.stopped_by_time_ or late
        return not late  # CatBoost goes on while this returns True


# ---- catalog entries ------------------------------------------------------------------------
def _builder(cls: type[_Boosting], defaults: dict[str, Any]) -> Any:
    def build(params: dict[str, Any], task: Task, seed: int) -> Any:
        return cls(task_kind=task.kind.value, n_classes=max(2, len(task.classes)), seed=seed,
                   n_threads=n_threads(), **{**defaults, **params})

    return build


LIGHTGBM_DEFAULTS: dict[str, Any] = {"learning_rate": 0.1, "num_leaves": 31,
                                     "min_child_samples": 20, "feature_fraction": 0.9}
XGBOOST_DEFAULTS: dict[str, Any] = {"learning_rate": 0.08, "max_depth": 6,
                                    "colsample_bytree": 0.8, "subsample": 0.9}
CATBOOST_DEFAULTS: dict[str, Any] = {"learning_rate": 0.08, "depth": 6}


def lightgbm_space(trial: Any) -> dict[str, Any]:
    return {"learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 4, 128, log=True),
            "min_child_samples": trial.suggest_int("min_child_samples", 2, 100, log=True),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.3, 1.0),
            "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
            "lambda_l1": trial.suggest_float("lambda_l1", 1e-4, 10.0, log=True),
            "lambda_l2": trial.suggest_float("lambda_l2", 1e-4, 10.0, log=True),
            "extra_trees": trial.suggest_categorical("extra_trees", [False, True])}


def xgboost_space(trial: Any) -> dict[str, Any]:
    return {"learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "max_depth": trial.suggest_int("max_depth", 2, 10),
            "min_child_weight": trial.suggest_float("min_child_weight", 0.5, 20.0, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
            "reg_alpha": trial.suggest_float("reg_alpha", 1e-4, 10.0, log=True)}


def catboost_space(trial: Any) -> dict[str, Any]:
    return {"learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
            "depth": trial.suggest_int("depth", 3, 8),
            "l2_leaf_reg": trial.suggest_float("l2_leaf_reg", 0.5, 20.0, log=True),
            "random_strength": trial.suggest_float("random_strength", 0.1, 5.0, log=True)}


def refit_rounds(best_iteration: int, *, data_fraction: float) -> int:
    """Rounds for a refit on more rows than the early-stopped fit saw: a little more."""
    return max(1, math.ceil(best_iteration * (1.0 + 0.5 * (1.0 / data_fraction - 1.0))))


ALGORITHMS = [
    Algorithm(name="lightgbm", family="boosting", summary="LightGBM gradient-boosted trees",
              kinds=SUPERVISED_KINDS, preprocessing="tree",
              build=_builder(LightGBMModel, LIGHTGBM_DEFAULTS), search_space=lightgbm_space,
              defaults=LIGHTGBM_DEFAULTS, cost=2.0, class_weights=True),
    Algorithm(name="xgboost", family="boosting", summary="XGBoost gradient-boosted trees (hist)",
              kinds=SUPERVISED_KINDS, preprocessing="tree",
              build=_builder(XGBoostModel, XGBOOST_DEFAULTS), search_space=xgboost_space,
              defaults=XGBOOST_DEFAULTS, cost=3.0, class_weights=True),
    Algorithm(name="catboost", family="boosting",
              summary="CatBoost gradient boosting on oblivious trees",
              kinds=SUPERVISED_KINDS, preprocessing="tree",
              build=_builder(CatBoostModel, CATBOOST_DEFAULTS), search_space=catboost_space,
              defaults=CATBOOST_DEFAULTS, cost=8.0, class_weights=True),
]
