"""The catalog: which algorithm learns which task, its defaults and its search space.

Adding an algorithm is adding one ``Algorithm`` entry in its family's module and listing it
in ``_FAMILIES`` below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from trainforge.data.task import Task, TaskKind
from trainforge.errors import UnknownAlgorithm

# "linear": impute + scale numbers, one-hot categories (models that need numbers on one scale);
# "tree": numbers as they are with NaN kept, categories as ordinal codes.
Preprocessing = Literal["linear", "tree"]


@dataclass(frozen=True)
class Algorithm:
    """One catalog entry.

    ``build(params, task, seed)`` returns an unfitted estimator with the scikit-learn contract;
    classifiers receive class codes 0..k-1 and return a (n, k) ``predict_proba``.
    ``search_space(trial)`` returns params sampled from an Optuna trial.
    ``cost`` is a relative training-cost hint (1 = a linear model), used to order trials.
    """

    name: str
    family: str
    summary: str
    kinds: frozenset[TaskKind]
    preprocessing: Preprocessing
    build: Callable[[Mapping[str, Any], Task, int], Any]
    search_space: Callable[[Any], dict[str, Any]]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    cost: float = 1.0


def _entries() -> list[Algorithm]:
    # imported here so `trainforge --help` never imports LightGBM & co.
    from trainforge.algorithms import boosting, linear, neighbors, neural, trees

    return [*linear.ALGORITHMS, *trees.ALGORITHMS, *boosting.ALGORITHMS, *neighbors.ALGORITHMS,
            *neural.ALGORITHMS]


def all_algorithms() -> list[Algorithm]:
    return _entries()


def names() -> list[str]:
    return [a.name for a in _entries()]


def get(name: str) -> Algorithm:
    for algorithm in _entries():
        if algorithm.name == name:
            return algorithm
    raise UnknownAlgorithm(name, names())


def for_task(kind: TaskKind) -> list[Algorithm]:
    return [a for a in _entries() if kind in a.kinds]
