"""k-nearest neighbours on standardised features."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from trainforge.algorithms.catalog import Algorithm, n_threads
from trainforge.data.task import SUPERVISED_KINDS, Task

DEFAULTS: dict[str, Any] = {"n_neighbors": 15, "weights": "distance"}


def build_knn(params: Mapping[str, Any], task: Task, seed: int) -> Any:
    """``seed`` is unused: neighbour search is deterministic."""
    p = {**DEFAULTS, **params}
    cls = KNeighborsClassifier if task.kind.is_classification else KNeighborsRegressor
    return cls(n_neighbors=int(p["n_neighbors"]), weights=str(p["weights"]), n_jobs=n_threads())


def knn_space(trial: Any) -> dict[str, Any]:
    return {"n_neighbors": trial.suggest_int("n_neighbors", 3, 60, log=True),
            "weights": trial.suggest_categorical("weights", ["uniform", "distance"])}


ALGORITHMS = [
    Algorithm(name="knn", family="neighbors", summary="k-nearest neighbours (standardised)",
              kinds=SUPERVISED_KINDS, preprocessing="linear", build=build_knn,
              search_space=knn_space, defaults=DEFAULTS, cost=2.0),
]
