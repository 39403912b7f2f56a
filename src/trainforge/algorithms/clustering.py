"""Clustering estimators: rows in, a segment id per row out.

Four methods, each an estimator with scikit-learn's contract (hyperparameters stored as given,
``fit(X)`` learns attributes ending in ``_`` including ``labels_``, ``predict(X)`` assigns new
rows), holding only numpy arrays, builtins and scikit-learn objects so that skops saves them:

- ``KMeansSegments``: k-means (scikit-learn's ``MiniBatchKMeans`` with ``mini_batch=True``,
  which the training step picks above 20,000 rows); new rows go to the nearest centre.
- ``MixtureSegments``: a Gaussian mixture; new rows go to their most probable component.
- ``AgglomerativeSegments``: Ward's hierarchical clustering. It has no rule for a new row, so
  a new row goes to the *nearest centroid* of the fitted clusters: Ward merges clusters to keep
  them compact around their mean, so the mean is the cluster's natural representative.
- ``DensitySegments``: HDBSCAN, which finds the number of clusters itself and leaves rows in
  no dense region as noise (segment -1). A new row takes the segment of the *nearest stored
  training row* (up to ``max_exemplars`` of them): clusters of any shape are followed, and a
  row nearest to noise stays noise.

Segments are numbered by size, 0 the largest, so the same data gives the same numbering.
``ClusteringModel`` joins the table's coercion and preprocessing to one of these: a table in,
segment ids out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.metrics import pairwise_distances_argmin
from sklearn.utils import Tags

from trainforge.algorithms.estimator_input import Accepts, prediction_input, unlabeled_input
from trainforge.algorithms.model import FeatureSpec, coerce_frame
from trainforge.errors import ConfigError

METHODS = ("kmeans", "gmm", "agglomerative", "hdbscan")
MINI_BATCH_ROWS = 20_000  # above this, k-means learns from mini-batches
DENSITY_MAX_ROWS = 10_000  # HDBSCAN fits on at most this many rows (41 s for 20,000 adult rows)
FULL_COVARIANCE_FEATURES = 20  # above this many columns a mixture keeps diagonal covariances
# k-means takes the CSR of text columns; the mixture, Ward's tree and HDBSCAN need dense rows,
# and the last two at least two of them
SPARSE_ROWS = Accepts(nan=False)
DENSE_ROWS = Accepts(nan=False, sparse=False)
TWO_DENSE_ROWS = Accepts(nan=False, sparse=False, min_rows=2)


def _check_n_clusters(n_clusters: int, n_rows: int) -> None:
    if not 1 <= n_clusters <= n_rows:
        raise ConfigError(f"n_clusters is {n_clusters} but the data has {n_rows} rows; give a "
                          f"number of clusters between 1 and {n_rows}")


def _check_fitted(estimator: Any, attribute: str) -> None:
    if not hasattr(estimator, attribute):
        raise ConfigError(f"this {type(estimator).__name__} is not fitted; call `.fit()` first")


def rank_by_size(raw: np.ndarray) -> np.ndarray:
    """The segment id of each raw cluster id (0..m-1): the largest cluster becomes 0.

    Ties keep the raw order, so the numbering is deterministic.
    """
    counts = np.bincount(raw[raw >= 0], minlength=int(raw.max(initial=-1)) + 1)
    mapping = np.empty(len(counts), dtype=np.int64)
    mapping[np.argsort(-counts, kind="stable")] = np.arange(len(counts))
    return mapping


def relabel(mapping: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Raw cluster ids as segment ids; noise (-1) stays -1."""
    out = np.full(len(raw), -1, dtype=np.int64)
    clustered = raw >= 0
    out[clustered] = mapping[raw[clustered]]
    return out


def _sample_rows(n_rows: int, limit: int, seed: int) -> np.ndarray:
    if n_rows <= limit:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, size=limit, replace=False))


class KMeansSegments(ClusterMixin, BaseEstimator):  # type: ignore[misc]
    """k-means: k round clusters of similar spread, each row with its nearest centre."""

    def __init__(self, n_clusters: int = 8, *, mini_batch: bool = False, seed: int = 0) -> None:
        self.n_clusters = n_clusters
        self.mini_batch = mini_batch
        self.seed = seed

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def fit(self, X: np.ndarray, y: Any = None) -> Self:
        from sklearn.cluster import KMeans, MiniBatchKMeans

        X = unlabeled_input(self, X, accepts=SPARSE_ROWS)
        _check_n_clusters(self.n_clusters, X.shape[0])
        model = (MiniBatchKMeans(n_clusters=self.n_clusters, random_state=self.seed, n_init=3,
                                 batch_size=2048) if self.mini_batch else
                 KMeans(n_clusters=self.n_clusters, random_state=self.seed, n_init=4))
        raw = np.asarray(model.fit_predict(X), dtype=np.int64)
        self.model_ = model
        self.mapping_ = rank_by_size(raw)
        self.labels_ = relabel(self.mapping_, raw)
        self.n_clusters_ = len(np.unique(self.labels_))
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = prediction_input(self, X, accepts=SPARSE_ROWS)
        return relabel(self.mapping_, np.asarray(self.model_.predict(X), dtype=np.int64))


class MixtureSegments(ClusterMixin, BaseEstimator):  # type: ignore[misc]
    """A Gaussian mixture: clusters of different sizes and shapes, and a BIC to compare k by.

    ``covariance="auto"`` keeps full covariances up to 20 columns and diagonal ones above,
    where a full matrix per component has more parameters than the rows can pin down.
    """

    def __init__(self, n_clusters: int = 8, *, covariance: str = "auto", seed: int = 0) -> None:
        self.n_clusters = n_clusters
        self.covariance = covariance
        self.seed = seed

    def fit(self, X: np.ndarray, y: Any = None) -> Self:
        from sklearn.mixture import GaussianMixture

        X = unlabeled_input(self, X, accepts=DENSE_ROWS)
        _check_n_clusters(self.n_clusters, len(X))
        covariance = self.covariance
        if covariance == "auto":
            covariance = "full" if X.shape[1] <= FULL_COVARIANCE_FEATURES else "diag"
        # reg_covar above the default: one-hot columns make singular covariances otherwise
        model = GaussianMixture(n_components=self.n_clusters, covariance_type=covariance,
                                reg_covar=1e-4, random_state=self.seed)
        raw = np.asarray(model.fit(X).predict(X), dtype=np.int64)
        self.model_ = model
        self.mapping_ = rank_by_size(raw)
        self.labels_ = relabel(self.mapping_, raw)
        self.n_clusters_ = len(np.unique(self.labels_))
        return self

    def bic(self, X: np.ndarray) -> float:
        """Bayesian information criterion on ``X``: lower is better."""
        return float(self.model_.bic(prediction_input(self, X, accepts=DENSE_ROWS)))

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = prediction_input(self, X, accepts=DENSE_ROWS)
        return relabel(self.mapping_, np.asarray(self.model_.predict(X), dtype=np.int64))


def ward_cuts(X: np.ndarray, ks: Sequence[int]) -> dict[int, np.ndarray]:
    """Ward's tree of ``X`` built once, cut into each number of clusters in ``ks``.

    Returns raw cluster ids 0..k-1 per row for each k. The tree costs O(n²) memory (the
    pairwise distances), so callers keep ``X`` to a few thousand rows.
    """
    from scipy.cluster.hierarchy import fcluster, ward

    tree = ward(X)
    return {k: np.asarray(fcluster(tree, t=k, criterion="maxclust"), dtype=np.int64) - 1
            for k in ks}


class AgglomerativeSegments(ClusterMixin, BaseEstimator):  # type: ignore[misc]
    """Ward's hierarchical clustering; new rows (and rows beyond ``max_rows``, which the tree
    does not see) go to the nearest centroid of the fitted clusters."""

    def __init__(self, n_clusters: int = 8, *, max_rows: int = 5_000, seed: int = 0) -> None:
        self.n_clusters = n_clusters
        self.max_rows = max_rows
        self.seed = seed

    def fit(self, X: np.ndarray, y: Any = None) -> Self:
        X = unlabeled_input(self, X, accepts=TWO_DENSE_ROWS)
        _check_n_clusters(self.n_clusters, len(X))
        picked = _sample_rows(len(X), self.max_rows, self.seed)
        raw = ward_cuts(X[picked], [self.n_clusters])[self.n_clusters]
        self.mapping_ = rank_by_size(raw)
        segments = relabel(self.mapping_, raw)
        self.centroids_ = np.stack([X[picked][segments == s].mean(axis=0)
                                    for s in range(len(self.mapping_))])
        self.labels_ = self.predict(X)
        self.labels_[picked] = segments  # the rows the tree saw keep the tree's segment
        self.n_clusters_ = len(self.centroids_)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = prediction_input(self, X, accepts=TWO_DENSE_ROWS)
        return np.asarray(pairwise_distances_argmin(X, self.centroids_), dtype=np.int64)


class DensitySegments(ClusterMixin, BaseEstimator):  # type: ignore[misc]
    """HDBSCAN: dense groups of any shape, their number found from the data; the rest noise.

    Fits on at most ``max_rows`` rows; the others, and new rows, take the segment of the
    nearest of up to ``max_exemplars`` stored training rows.
    """

    def __init__(self, min_cluster_size: int = 5, *, max_rows: int = DENSITY_MAX_ROWS,
                 max_exemplars: int = 5_000, seed: int = 0) -> None:
        self.min_cluster_size = min_cluster_size
        self.max_rows = max_rows
        self.max_exemplars = max_exemplars
        self.seed = seed

    def fit(self, X: np.ndarray, y: Any = None) -> Self:
        from sklearn.cluster import HDBSCAN

        X = unlabeled_input(self, X, accepts=TWO_DENSE_ROWS)
        if not 2 <= self.min_cluster_size <= max(len(X), 2):
            raise ConfigError(f"min_cluster_size is {self.min_cluster_size}; give a whole "
                              f"number between 2 and the number of rows ({len(X)})")
        picked = _sample_rows(len(X), self.max_rows, self.seed)
        raw = np.asarray(HDBSCAN(min_cluster_size=self.min_cluster_size, copy=True)
                         .fit_predict(X[picked]), dtype=np.int64)
        self.mapping_ = rank_by_size(raw)
        segments = relabel(self.mapping_, raw)
        kept = _sample_rows(len(picked), self.max_exemplars, self.seed)
        self.exemplars_ = np.asarray(X[picked][kept], dtype=np.float64)
        self.exemplar_segments_ = segments[kept]
        self.labels_ = self.predict(X)
        self.labels_[picked] = segments
        self.n_clusters_ = len(self.mapping_)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = prediction_input(self, X, accepts=TWO_DENSE_ROWS)
        nearest = pairwise_distances_argmin(X, self.exemplars_)
        return np.asarray(self.exemplar_segments_[nearest], dtype=np.int64)


def build_segments(method: str, *, n_clusters: int, n_rows: int, seed: int,
                   min_cluster_size: int = 5) -> Any:
    """An unfitted estimator for ``method`` (one of ``METHODS``) sized for ``n_rows`` rows.

    ``n_clusters`` is ignored by ``"hdbscan"``, which takes ``min_cluster_size`` instead.
    """
    if method == "kmeans":
        return KMeansSegments(n_clusters, mini_batch=n_rows > MINI_BATCH_ROWS, seed=seed)
    if method == "gmm":
        return MixtureSegments(n_clusters, seed=seed)
    if method == "agglomerative":
        return AgglomerativeSegments(n_clusters, seed=seed)
    if method == "hdbscan":
        return DensitySegments(min_cluster_size, seed=seed)
    from trainforge.errors import UnknownAlgorithm

    raise UnknownAlgorithm(method, METHODS)


class ClusteringModel(BaseEstimator):  # type: ignore[misc]
    """A table in, a segment id per row out: what the registry stores and serving loads.

    Args:
        features: the input signature, each as ``FeatureSpec.to_dict()`` (builtins, so the
            model saves with skops).
        preprocessor: a ``TablePreprocessor`` (linear style): the table as numbers.
        segments: one of this module's clustering estimators.
    """

    def __init__(self, features: Sequence[dict[str, str]] = (), preprocessor: Any = None,
                 segments: Any = None) -> None:
        self.features = features
        self.preprocessor = preprocessor
        self.segments = segments

    @property
    def feature_specs(self) -> list[FeatureSpec]:
        return [FeatureSpec.from_dict(dict(raw)) for raw in self.features]

    def fit(self, frame: pd.DataFrame, y: Any = None) -> Self:
        matrix = self.preprocessor.fit_transform(coerce_frame(frame, self.feature_specs))
        self.segments.fit(matrix)
        self.labels_ = np.asarray(self.segments.labels_, dtype=np.int64)
        self.n_clusters_ = int(self.segments.n_clusters_)
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """The rows as the clustering sees them: coerced, imputed, scaled, one-hot."""
        _check_fitted(self, "labels_")
        return np.asarray(self.preprocessor.transform(coerce_frame(frame, self.feature_specs)))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The segment of each row (0 the largest; -1 noise, HDBSCAN only)."""
        return np.asarray(self.segments.predict(self.transform(frame)), dtype=np.int64)
