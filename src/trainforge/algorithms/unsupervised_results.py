"""What clustering and anomaly detection produce: the fitted model, what each row got, and
how the choice was made; and that model in the registry's form.

The types live with the algorithms rather than with the search that fills them
(``training/unsupervised.py``) because evaluation reads them, and evaluation judges results
without importing training (DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trainforge.algorithms.anomaly import AnomalyModel
from trainforge.algorithms.clustering import ClusteringModel
from trainforge.algorithms.model import Member, TabularModel
from trainforge.data.task import Task, TaskKind


@dataclass(frozen=True)
class ClusterCandidate:
    """One (method, number of clusters) tried on the selection sample.

    ``criterion`` is "silhouette" (higher is better) or "bic" (lower is better); ``score`` is
    that criterion's value, ``silhouette`` is there for every method so methods compare.
    """

    method: str
    n_clusters: int
    criterion: str
    score: float
    silhouette: float
    fit_s: float
    detail: str = ""
    min_cluster_size: int = 0  # HDBSCAN's setting (its k is what it found); 0 for the others


@dataclass(frozen=True)
class ClusteringResult:
    """The fitted model, each training row's segment, and how the choice was made."""

    model: ClusteringModel
    method: str
    n_clusters: int  # segments of the refitted model (HDBSCAN's may differ from its candidate's)
    chosen: ClusterCandidate
    # the segment of each row of the table, in its order (-1: noise). Agglomerative labels are
    # the tree's; ``model.predict`` on the same rows uses nearest centroids and may differ on
    # a few border rows (3 % of iris)
    labels: np.ndarray
    candidates: tuple[ClusterCandidate, ...]
    features: tuple[str, ...]  # the columns used
    notes: tuple[str, ...]


@dataclass(frozen=True)
class AnomalyResult:
    """The fitted model, each training row's score and flag, and the threshold between."""

    model: AnomalyModel
    method: str
    scores: np.ndarray  # higher is more anomalous; see trainforge.algorithms.anomaly
    is_anomaly: np.ndarray  # bool per row: score above the threshold
    threshold: float
    features: tuple[str, ...]
    notes: tuple[str, ...]


def as_table_model(result: ClusteringResult | AnomalyResult) -> TabularModel:
    """The result's model in the registry's form: one member (the fitted preprocessor and the
    segments or detector) behind the table's signature, so registering, batch prediction and
    serving treat it as they treat a supervised model."""
    fitted = result.model
    if isinstance(result, ClusteringResult):
        task = Task(target="segment", kind=TaskKind.CLUSTERING, metric="silhouette")
        estimator = fitted.segments
        params: dict[str, Any] = {"method": result.method, "n_clusters": result.n_clusters}
        if result.chosen.min_cluster_size:
            params["min_cluster_size"] = int(estimator.min_cluster_size)
    else:
        task = Task(target="anomaly", kind=TaskKind.ANOMALY, metric="anomaly_share")
        estimator = fitted.detector
        params = {"method": result.method, "contamination": estimator.contamination,
                  "threshold": result.threshold}
    member = Member(algorithm=result.method, params=params, preprocessor=fitted.preprocessor,
                    estimator=estimator)
    return TabularModel(task=task, features=fitted.feature_specs, members=[member])
