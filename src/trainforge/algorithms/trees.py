"""Tree ensembles from scikit-learn: one decision tree, random forest and extra trees."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from trainforge.algorithms.catalog import Algorithm, n_threads
from trainforge.data.task import SUPERVISED_KINDS, Task

TREE_DEFAULTS: dict[str, Any] = {"max_depth": 8, "min_samples_leaf": 5}
FOREST_DEFAULTS: dict[str, Any] = {"n_estimators": 300, "max_features": "sqrt",
                                   "min_samples_leaf": 1}
# what random_forest and extra_trees build
FOREST_TYPES = (RandomForestClassifier, RandomForestRegressor, ExtraTreesClassifier,
                ExtraTreesRegressor)


def build_decision_tree(params: Mapping[str, Any], task: Task, seed: int) -> Any:
    p = {**TREE_DEFAULTS, **params}
    if task.kind.is_classification:
        return DecisionTreeClassifier(max_depth=int(p["max_depth"]),
                                      min_samples_leaf=int(p["min_samples_leaf"]),
                                      class_weight=p.get("class_weight"), random_state=seed)
    return DecisionTreeRegressor(max_depth=int(p["max_depth"]),
                                 min_samples_leaf=int(p["min_samples_leaf"]), random_state=seed)


def tree_space(trial: Any) -> dict[str, Any]:
    return {"max_depth": trial.suggest_int("max_depth", 2, 16),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 50, log=True)}


def _forest(classifier: type, regressor: type) -> Any:
    def build(params: Mapping[str, Any], task: Task, seed: int) -> Any:
        p = {**FOREST_DEFAULTS, **params}
        features = p["max_features"]
        if not task.kind.is_classification and features == "sqrt":
            features = 0.6  # regression forests need more candidate features per split
        common = {"n_estimators": int(p["n_estimators"]), "max_features": features,
                  "min_samples_leaf": int(p["min_samples_leaf"]), "n_jobs": n_threads(),
                  "random_state": seed}
        if task.kind.is_classification:
            return classifier(class_weight=p.get("class_weight"), **common)
        return regressor(**common)

    return build


def forest_space(trial: Any) -> dict[str, Any]:
    return {"n_estimators": trial.suggest_int("n_estimators", 100, 500, step=100),
            "max_features": trial.suggest_categorical("max_features", ["sqrt", 0.3, 0.6, 1.0]),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 20, log=True)}


ALGORITHMS = [
    Algorithm(name="decision_tree", family="trees", summary="one CART decision tree",
              kinds=SUPERVISED_KINDS, preprocessing="tree", build=build_decision_tree,
              search_space=tree_space, defaults=TREE_DEFAULTS, cost=0.5,
              class_weights=True),
    Algorithm(name="random_forest", family="trees",
              summary="random forest: bagged deep trees on bootstrap samples",
              kinds=SUPERVISED_KINDS, preprocessing="tree",
              build=_forest(RandomForestClassifier, RandomForestRegressor),
              search_space=forest_space, defaults=FOREST_DEFAULTS, cost=6.0,
              class_weights=True),
    Algorithm(name="extra_trees", family="trees",
              summary="extremely randomised trees: random split points, whole sample",
              kinds=SUPERVISED_KINDS, preprocessing="tree",
              build=_forest(ExtraTreesClassifier, ExtraTreesRegressor),
              search_space=forest_space, defaults=FOREST_DEFAULTS, cost=4.0,
              class_weights=True),
]
