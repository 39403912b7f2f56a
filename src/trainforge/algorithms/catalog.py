"""The catalog: which algorithm learns which task, its defaults and its search space.

Adding an algorithm is adding one ``Algorithm`` entry in its family's module and listing it
in ``_FAMILIES`` below.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from trainforge.data.task import Task, TaskKind
from trainforge.errors import NoPrivateAlgorithm, UnknownAlgorithm

# "linear": impute + scale numbers, one-hot categories (models that need numbers on one scale);
# "tree": numbers as they are with NaN kept, categories as ordinal codes;
# "image" / "text": the raw image or text column, which a network encodes itself.
Preprocessing = Literal["linear", "tree", "image", "text"]
# what a table holds, as the catalog sees it: plain columns, free text, or images
Modality = Literal["table", "text", "image"]


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
    # accepts params["class_weight"] = "balanced": classes weighted inversely to their size,
    # which a search sets when the metric (balanced accuracy) counts every class equally
    class_weights: bool = False
    # the data it can learn from: tabular models read text through TF-IDF, never images
    modalities: frozenset[str] = frozenset({"table", "text"})
    # DP-SGD (--dp-epsilon) can train it: a network whose every trainable layer Opacus clips
    # per row (recurrent and attention layers of torch's own have no per-row gradients)
    dp_sgd: bool = False

    @property
    def stops_itself(self) -> bool:
        """Fits that end themselves at a given time (boosting rounds, network epochs)."""
        return self.family in ("boosting", "network")


def n_threads(limit: int = 2) -> int:
    """Threads an estimator may use: the cores this process may run on, at most ``limit``,
    and at most ``OMP_NUM_THREADS`` when the user set it."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        available = os.cpu_count() or 1
    cap = os.environ.get("OMP_NUM_THREADS", "")
    if cap.isdigit() and int(cap) > 0:
        available = min(available, int(cap))
    return max(1, min(limit, available))


def _entries() -> list[Algorithm]:
    # imported here so `trainforge --help` never imports LightGBM & co.
    from trainforge.algorithms import boosting, deep, linear, neighbors, neural, online, trees

    return [*linear.ALGORITHMS, *trees.ALGORITHMS, *boosting.ALGORITHMS, *neighbors.ALGORITHMS,
            *neural.ALGORITHMS, *deep.ALGORITHMS, *online.ALGORITHMS]


def all_algorithms() -> list[Algorithm]:
    return _entries()


def names() -> list[str]:
    return [a.name for a in _entries()]


def get(name: str) -> Algorithm:
    for algorithm in _entries():
        if algorithm.name == name:
            return algorithm
    raise UnknownAlgorithm(name, names())


def for_task(kind: TaskKind, modality: Modality = "table") -> list[Algorithm]:
    return [a for a in _entries() if kind in a.kinds and modality in a.modalities]


def trainable_privately(pool: Iterable[Algorithm], *, algorithm: str, kind: TaskKind,
                        modality: Modality) -> list[Algorithm]:
    """The algorithms of ``pool`` that DP-SGD can train (--dp-epsilon); NoPrivateAlgorithm
    when there are none, saying why (tree and linear models have no DP-SGD here)."""
    private = [a for a in pool if a.dp_sgd]
    if private:
        return private
    if algorithm != "auto":
        family = get(algorithm).family
        detail = (f"{algorithm!r} is a network whose recurrent or attention layers have no "
                  "per-row gradients in Opacus" if family == "network" else
                  f"{algorithm!r} is a {family} model, which DP-SGD does not train")
    else:
        detail = (f"no such network learns a {kind.value} task from {modality} data"
                  + (" (no network here learns plain tables yet: mlp is scikit-learn's)"
                     if modality == "table" else ""))
    raise NoPrivateAlgorithm(detail, sorted(a.name for a in _entries() if a.dp_sgd))


def modality_of(kinds: Iterable[str]) -> Modality:
    """"image" when a feature is an image, "text" when one is free text, else "table"."""
    seen = {str(k) for k in kinds}
    if "image" in seen:
        return "image"
    return "text" if "text" in seen else "table"


class AlignedClassifier:
    """A fitted classifier that saw only some classes, answering with all ``n_classes``
    probability columns (the missing classes get 0): a cross-validation fold of a table
    with a very rare class trains without it, yet the blend needs (n, k) from every member."""

    def __init__(self, estimator: Any = None, n_classes: int = 2) -> None:
        self.estimator = estimator
        self.n_classes = n_classes

    def fit(self, X: Any, y: Any) -> AlignedClassifier:
        self.estimator.fit(X, y)
        return self

    def predict_proba(self, X: Any) -> Any:
        import numpy as np

        seen = np.asarray(self.estimator.classes_, dtype=np.int64)
        proba = np.zeros((X.shape[0], self.n_classes), dtype=np.float64)
        proba[:, seen] = self.estimator.predict_proba(X)
        return proba

    def predict(self, X: Any) -> Any:
        return self.predict_proba(X).argmax(axis=1)
