"""A multi-layer perceptron (scikit-learn's); the PyTorch loop takes over in a later issue."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.compose import TransformedTargetRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

from trainforge.algorithms.catalog import Algorithm
from trainforge.data.task import SUPERVISED_KINDS, Task

DEFAULTS: dict[str, Any] = {"width": 128, "depth": 2, "alpha": 1e-4, "learning_rate": 1e-3}


def build_mlp(params: Mapping[str, Any], task: Task, seed: int) -> Any:
    p = {**DEFAULTS, **params}
    common = {"hidden_layer_sizes": (int(p["width"]),) * int(p["depth"]),
              "alpha": float(p["alpha"]), "learning_rate_init": float(p["learning_rate"]),
              "early_stopping": True, "n_iter_no_change": 8, "max_iter": 200,
              "random_state": seed}
    if task.kind.is_classification:
        return MLPClassifier(**common)
    # a standardised target keeps the default learning rate right for any unit of y
    return TransformedTargetRegressor(regressor=MLPRegressor(**common),
                                      transformer=StandardScaler())


def mlp_space(trial: Any) -> dict[str, Any]:
    return {"width": trial.suggest_categorical("width", [32, 64, 128, 256]),
            "depth": trial.suggest_int("depth", 1, 3),
            "alpha": trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
            "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True)}


ALGORITHMS = [
    Algorithm(name="mlp", family="neural", summary="multi-layer perceptron (scikit-learn)",
              kinds=SUPERVISED_KINDS, preprocessing="linear", build=build_mlp,
              search_space=mlp_space, defaults=DEFAULTS, cost=15.0),
]
