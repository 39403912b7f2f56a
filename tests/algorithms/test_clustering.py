"""The clustering estimators: segments numbered by size, new rows assigned, safe files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import NotFittedError
from sklearn.metrics import adjusted_rand_score

from trainforge.algorithms.clustering import (
    AgglomerativeSegments,
    ClusteringModel,
    DensitySegments,
    KMeansSegments,
    MixtureSegments,
    rank_by_size,
)
from trainforge.algorithms.model import FeatureSpec
from trainforge.data.dataset import ColumnKind
from trainforge.data.prepare import make_preprocessor
from trainforge.errors import ConfigError
from trainforge.registry.safe_files import load_object, save_object

IRIS = load_iris(as_frame=True)  # real measurements, shipped inside scikit-learn
COLUMNS = [str(c) for c in IRIS.data.columns]
X = ((IRIS.data - IRIS.data.mean()) / IRIS.data.std()).to_numpy()

ESTIMATORS = {
    "kmeans": lambda: KMeansSegments(3, seed=0),
    "mini-batch kmeans": lambda: KMeansSegments(3, mini_batch=True, seed=0),
    "gmm": lambda: MixtureSegments(3, seed=0),
    "agglomerative": lambda: AgglomerativeSegments(3),
    "hdbscan": lambda: DensitySegments(10),
}


def test_raw_clusters_are_renumbered_largest_first():
    assert rank_by_size(np.array([2, 2, 2, 0, 1, 1])).tolist() == [2, 1, 0]


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_segment_zero_is_the_largest(name: str):
    labels = ESTIMATORS[name]().fit(X).labels_
    counts = np.bincount(labels[labels >= 0])
    assert counts.tolist() == sorted(counts.tolist(), reverse=True)


def test_a_gaussian_mixture_given_three_clusters_recovers_the_iris_species():
    labels = MixtureSegments(3, seed=0).fit(X).labels_
    assert adjusted_rand_score(IRIS.target, labels) > 0.85


def test_agglomerative_sends_a_new_row_to_the_nearest_centroid():
    model = AgglomerativeSegments(3).fit(X)
    near_segment_2 = model.centroids_[2] + 0.01
    assert model.predict(near_segment_2[None, :]).tolist() == [2]


def test_agglomerative_beyond_max_rows_assigns_the_unseen_rows_by_centroid():
    model = AgglomerativeSegments(3, max_rows=60, seed=0).fit(X)
    assert len(model.labels_) == len(X) and set(model.labels_.tolist()) == {0, 1, 2}


def test_hdbscan_gives_a_new_row_the_segment_of_the_nearest_training_row():
    model = DensitySegments(10).fit(X)
    assert model.predict(X[:40] + 1e-3).tolist() == model.labels_[:40].tolist()


def test_mixture_bic_prefers_the_two_visible_groups_of_iris_to_one():
    assert MixtureSegments(2, seed=0).fit(X).bic(X) < MixtureSegments(1, seed=0).fit(X).bic(X)


def test_more_clusters_than_rows_is_refused_with_the_limit():
    with pytest.raises(ConfigError, match="between 1 and 4"):
        KMeansSegments(5).fit(X[:4])


def test_predict_before_fit_says_to_call_fit():
    with pytest.raises(NotFittedError, match=r"call `\.fit\(\)` first"):
        AgglomerativeSegments(3).predict(X)


def _model(name: str) -> ClusteringModel:
    schema = {c: ColumnKind.NUMERIC for c in COLUMNS}
    features = [FeatureSpec(c, ColumnKind.NUMERIC, "number").to_dict() for c in COLUMNS]
    return ClusteringModel(features, make_preprocessor(schema, COLUMNS, style="linear"),
                           ESTIMATORS[name]()).fit(IRIS.data)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_a_fitted_table_model_saves_and_loads_through_skops_with_the_same_segments(
        name: str, tmp_path: Path):
    model = _model(name)
    loaded = load_object(save_object(model, tmp_path, stem="model"), tmp_path)
    assert loaded.predict(IRIS.data).tolist() == model.predict(IRIS.data).tolist()


def test_a_table_model_puts_its_own_training_rows_in_their_kmeans_segments():
    model = _model("kmeans")
    assert model.predict(IRIS.data).tolist() == model.labels_.tolist()
