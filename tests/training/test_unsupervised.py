"""Choosing segments and scoring anomalies on real tables, and the input they refuse."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine
from sklearn.metrics import adjusted_rand_score
from tests._paths import EXAMPLES

from trainforge.algorithms.unsupervised_results import ClusteringResult
from trainforge.data.dataset import ColumnKind
from trainforge.data.schema import infer_schema
from trainforge.errors import ConfigError, EmptyData, NothingToCompare, UnknownAlgorithm
from trainforge.training.unsupervised import cluster, describe_choice, find_anomalies

WINE = load_wine(as_frame=True)  # 178 wines of 3 cultivars, shipped inside scikit-learn
WINE_COLUMNS = [str(c) for c in WINE.data.columns]
WINE_SCHEMA = {c: ColumnKind.NUMERIC for c in WINE_COLUMNS}


def _wine(method: str = "auto", k: int | None = None) -> ClusteringResult:
    return cluster(WINE.data, features=WINE_COLUMNS, schema=WINE_SCHEMA, time_budget_s=60,
                   seed=0, method=method, k=k)


@pytest.fixture(scope="module")
def credit() -> pd.DataFrame:
    return pd.read_csv(EXAMPLES / "credit_g.csv")


def test_kmeans_chooses_three_clusters_for_the_three_wine_cultivars():
    assert _wine(method="kmeans").n_clusters == 3


def test_the_chosen_wine_segments_match_the_cultivars():
    assert adjusted_rand_score(WINE.target, _wine(method="kmeans").labels) > 0.85


def test_auto_compares_every_method_and_marks_one_choice():
    rows = describe_choice(_wine())
    assert {r["method"] for r in rows} == {"kmeans", "gmm", "agglomerative", "hdbscan"}
    assert sum(r["chosen"] for r in rows) == 1


def test_a_gaussian_mixture_chooses_k_by_bic():
    result = _wine(method="gmm")
    lowest = min(result.candidates, key=lambda c: c.score)
    assert (result.chosen.criterion, result.n_clusters) == ("bic", lowest.n_clusters)


def test_a_given_k_is_the_only_one_tried():
    assert [c.n_clusters for c in _wine(method="kmeans", k=4).candidates] == [4]


def test_the_fitted_model_assigns_new_rows_their_segment():
    result = _wine(method="kmeans")
    assert result.model.predict(WINE.data.iloc[:20]).tolist() == result.labels[:20].tolist()


def test_a_spent_time_budget_still_fits_the_first_candidate_and_says_what_it_skipped():
    result = cluster(WINE.data, features=WINE_COLUMNS, schema=WINE_SCHEMA, time_budget_s=0.0,
                     seed=0)
    assert len(result.candidates) == 1 and any("time budget" in n for n in result.notes)


def test_mixed_numbers_and_categories_cluster_into_described_segments(credit: pd.DataFrame):
    features = [c for c in credit.columns if c != "class"]
    result = cluster(credit, features=features, schema=infer_schema(credit), time_budget_s=30,
                     seed=0, method="kmeans", k=3)
    assert np.bincount(result.labels).tolist() == sorted(np.bincount(result.labels), reverse=True)


def test_ids_and_constants_alone_are_refused_naming_them():
    frame = pd.DataFrame({"customer": [f"c{i}" for i in range(10)], "country": ["FR"] * 10})
    schema = {"customer": ColumnKind.ID, "country": ColumnKind.CATEGORICAL}
    with pytest.raises(NothingToCompare, match=r"customer \(an id.*country \(the same value"):
        cluster(frame, features=["customer", "country"], schema=schema, time_budget_s=5, seed=0)


def test_a_single_row_is_refused_saying_how_many_are_needed():
    with pytest.raises(EmptyData, match="only 1 row, and clustering needs at least 3"):
        cluster(WINE.data.iloc[:1], features=WINE_COLUMNS, schema=WINE_SCHEMA, time_budget_s=5,
                seed=0)


def test_a_text_column_is_skipped_with_a_note():
    messages = pd.read_csv(EXAMPLES / "sms_spam.csv").head(200)
    frame = messages.assign(length=messages["text"].str.len())
    schema = {"text": ColumnKind.TEXT, "length": ColumnKind.NUMERIC}
    result = cluster(frame, features=["text", "length"], schema=schema, time_budget_s=10,
                     seed=0, method="kmeans")
    assert result.features == ("length",) and any("'text' skipped" in n for n in result.notes)


def test_a_category_with_too_many_levels_is_skipped_with_a_note():
    frame = WINE.data.assign(batch=[f"b{i % 35}" for i in range(len(WINE.data))])
    schema = {**WINE_SCHEMA, "batch": ColumnKind.CATEGORICAL}
    result = cluster(frame, features=[*WINE_COLUMNS, "batch"], schema=schema, time_budget_s=10,
                     seed=0, method="kmeans", k=3)
    assert any("35 frequent levels" in n for n in result.notes)


def test_more_clusters_than_distinct_rows_is_refused():
    frame = pd.DataFrame({"size": [1.0, 2.0, 1.0, 2.0]})
    with pytest.raises(ConfigError, match="k is 3, but the rows have 2 distinct values"):
        cluster(frame, features=["size"], schema={"size": ColumnKind.NUMERIC},
                time_budget_s=5, seed=0, k=3)


def test_an_unknown_clustering_method_names_the_known_ones():
    with pytest.raises(UnknownAlgorithm, match="Did you mean 'kmeans'"):
        _wine(method="kmean")


def test_find_anomalies_ranks_a_typo_row_first():
    typo = WINE.data.iloc[[0]].assign(alcohol=142.3)  # 14.23 % written as 142.3
    frame = pd.concat([WINE.data, typo], ignore_index=True)
    result = find_anomalies(frame, features=WINE_COLUMNS, schema=WINE_SCHEMA, seed=0)
    assert int(np.argmax(result.scores)) == len(frame) - 1 and result.is_anomaly[-1]


@pytest.mark.slow
def test_robust_covariance_leaves_categories_out_with_a_note(credit: pd.DataFrame):
    features = ["duration", "credit_amount", "age", "purpose"]
    result = find_anomalies(credit, features=features, schema=infer_schema(credit), seed=0,
                            method="robust_covariance")
    assert result.features == ("duration", "credit_amount", "age")
    assert any("'purpose' skipped" in n for n in result.notes)


def test_find_anomalies_refuses_a_single_row():
    with pytest.raises(EmptyData, match="anomaly detection needs at least 3"):
        find_anomalies(WINE.data.iloc[:1], features=WINE_COLUMNS, schema=WINE_SCHEMA, seed=0)


def test_the_documented_example_runs():
    import doctest

    from trainforge.training import unsupervised

    assert doctest.testmod(unsupervised).failed == 0


def test_columns_skipped_for_one_reason_share_one_note():
    frame = WINE.data.assign(region="A", vintage=2020.0)
    schema = {**WINE_SCHEMA, "region": ColumnKind.CATEGORICAL, "vintage": ColumnKind.NUMERIC}
    result = cluster(frame, features=[*WINE_COLUMNS, "region", "vintage"], schema=schema,
                     time_budget_s=10, seed=0, method="kmeans", k=3)
    note = "2 columns skipped ('region', 'vintage'): the same value in every row"
    assert result.notes == (note,)


def test_hdbscan_ignores_a_given_k_and_says_so():
    result = _wine(method="hdbscan", k=3)
    assert any("k=3 ignored" in n for n in result.notes)


@pytest.mark.slow
def test_long_tailed_columns_do_not_make_a_segment_of_their_few_extreme_rows():
    # adult's capital gains are 0 for 92 % of people and up to 99,999: on a linear scale the
    # 13 rows at 99,999 were a segment of their own; on the log scale they join others
    adult = pd.read_csv(EXAMPLES / "adult.csv", nrows=3000).drop(columns=["income"])
    features = [str(c) for c in adult.columns]
    result = cluster(adult, features=features, schema=infer_schema(adult), time_budget_s=30,
                     seed=0)
    assert np.bincount(result.labels).min() > 0.01 * len(adult)  # was 13 rows of 3,000
