"""Regularised linear models: logistic regression for classes, ridge regression for numbers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.linear_model import LogisticRegression, Ridge

from trainforge.algorithms.catalog import Algorithm
from trainforge.data.task import SUPERVISED_KINDS, Task

DEFAULTS: dict[str, Any] = {"strength": 1.0}


def build_linear(params: Mapping[str, Any], task: Task, seed: int) -> Any:
    """``strength`` is the L2 penalty: ridge's alpha, the inverse of logistic's C."""
    p = {**DEFAULTS, **params}
    strength = float(p["strength"])
    if task.kind.is_classification:
        return LogisticRegression(C=1.0 / strength, max_iter=500, random_state=seed,
                                  class_weight=p.get("class_weight"))
    return Ridge(alpha=strength)


def linear_space(trial: Any) -> dict[str, Any]:
    return {"strength": trial.suggest_float("strength", 1e-3, 1e3, log=True)}


ALGORITHMS = [
    Algorithm(name="linear", family="linear",
              summary="logistic regression (classes) or ridge regression (numbers), L2-penalised",
              kinds=SUPERVISED_KINDS, preprocessing="linear", build=build_linear,
              search_space=linear_space, defaults=DEFAULTS, cost=1.0,
              class_weights=True),
]
