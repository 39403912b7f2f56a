"""Models that learn from each new batch of rows without starting over.

``online_linear`` is scikit-learn's stochastic-gradient linear model: logistic loss for
classes (``SGDClassifier``), squared loss for numbers (``OnlineRegressor``, which scales the
target so that one learning rate suits any unit). ``updated(estimator, X, y, rounds=...)``
continues a fitted estimator on new rows and returns a new one: ``partial_fit`` for the
linear models, a few more boosting rounds from the current trees for LightGBM
(``init_model``). Both save as every catalog model does (skops; LightGBM's own text format),
never by pickle: river's online learners persist only by pickle, so none is used here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Self

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted, validate_data

from trainforge.algorithms.catalog import Algorithm
from trainforge.data.task import SUPERVISED_KINDS, Task

DEFAULTS: dict[str, Any] = {"strength": 1e-4}
# the catalog algorithms whose fitted estimators ``updated`` continues
UPDATABLE = ("online_linear", "lightgbm")


class OnlineRegressor(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """Squared-loss SGD on the target standardised with the first fit's mean and spread:
    a price in dollars and a rate in percent learn at the same pace."""

    def __init__(self, strength: float = 1e-4, seed: int = 0) -> None:
        self.strength = strength
        self.seed = seed

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # the TF-IDF of text columns
        return tags

    def fit(self, X: Any, y: Any) -> Self:
        X, target = validate_data(self, X, y, y_numeric=True, accept_sparse="csr")
        target = np.asarray(target, dtype="float64")
        self.target_mean_ = float(target.mean())
        self.target_scale_ = float(target.std()) or 1.0  # a constant target stays finite
        self.sgd_ = SGDRegressor(alpha=self.strength, random_state=self.seed, max_iter=1000,
                                 tol=1e-4)
        self.sgd_.fit(X, (target - self.target_mean_) / self.target_scale_)
        return self

    def partial_fit(self, X: Any, y: Any) -> Self:
        """One pass over ``X``, ``y`` from the current weights, on the first fit's scale
        (an unfitted model is fitted: the first batch sets the scale)."""
        if not hasattr(self, "sgd_"):
            return self.fit(X, y)
        X, target = validate_data(self, X, y, y_numeric=True, accept_sparse="csr", reset=False)
        target = np.asarray(target, dtype="float64")
        self.sgd_.partial_fit(X, (target - self.target_mean_) / self.target_scale_)
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "sgd_")
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        return np.asarray(self.sgd_.predict(X) * self.target_scale_ + self.target_mean_)


def build_online(params: Mapping[str, Any], task: Task, seed: int) -> Any:
    """``strength`` is the L2 penalty (SGD's alpha)."""
    strength = float({**DEFAULTS, **params}["strength"])
    if task.kind.is_classification:
        return SGDClassifier(loss="log_loss", alpha=strength, max_iter=1000, tol=1e-4,
                             random_state=seed)
    return OnlineRegressor(strength=strength, seed=seed)


def online_space(trial: Any) -> dict[str, Any]:
    return {"strength": trial.suggest_float("strength", 1e-6, 1e-1, log=True)}


def updated(estimator: Any, X: Any, y: np.ndarray, *, rounds: int) -> Any:
    """A copy of the fitted ``estimator`` that has also learned from ``X``, ``y`` (class codes
    or numbers); the original is unchanged. ``rounds``: LightGBM trees to add. TypeError when
    the estimator cannot learn more (``can_update`` says which can)."""
    if isinstance(estimator, SGDClassifier | OnlineRegressor):
        return copy.deepcopy(estimator).partial_fit(X, y)
    from trainforge.algorithms.boosting import LightGBMModel

    if isinstance(estimator, LightGBMModel):
        return _more_trees(estimator, X, y, rounds=rounds)
    raise TypeError(f"{type(estimator).__name__} cannot be updated in place of a retrain")


def can_update(estimator: Any) -> bool:
    from trainforge.algorithms.boosting import LightGBMModel

    return isinstance(estimator, SGDClassifier | OnlineRegressor | LightGBMModel)


def _more_trees(estimator: Any, X: Any, y: np.ndarray, *, rounds: int) -> Any:
    """LightGBM continued from the estimator's booster for ``rounds`` more trees on the new
    rows; its settings (and class weights) as they were."""
    import lightgbm as lgb

    # the saved booster keeps best_iteration_ trees: continue from those, not from any beyond
    start = estimator.booster_.model_to_string(num_iteration=estimator.best_iteration_)
    rows = lgb.Dataset(X, np.asarray(y), weight=estimator._weights(np.asarray(y)),
                       categorical_feature=list(estimator.categorical_features) or "auto",
                       params={"verbosity": -1})
    booster = lgb.train(estimator._params(), rows, num_boost_round=int(rounds),
                        init_model=lgb.Booster(model_str=start), keep_training_booster=True)
    continued = copy.copy(estimator)  # same settings; the booster is the new one's own
    continued.booster_ = booster
    continued.best_iteration_ = int(booster.current_iteration())
    return continued


ALGORITHMS = [
    Algorithm(name="online_linear", family="online",
              summary="linear model trained by stochastic gradient descent (logistic loss for "
                      "classes, squared loss for numbers) that `trainforge update` continues "
                      "on each batch of feedback",
              kinds=SUPERVISED_KINDS, preprocessing="linear", build=build_online,
              search_space=online_space, defaults=DEFAULTS, cost=1.0),
]
