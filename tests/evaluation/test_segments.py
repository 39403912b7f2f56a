"""Segments and anomalies described in plain words, and their 2-D pictures."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from tests._paths import EXAMPLES

from trainforge.algorithms.model import coerce_frame, feature_specs
from trainforge.data.dataset import ColumnKind
from trainforge.data.schema import infer_schema
from trainforge.evaluation.segments import (
    anomaly_plot,
    describe_anomalies,
    describe_anomaly_result,
    describe_clustering,
    describe_segments,
    number_text,
    segment_plot,
)
from trainforge.training.unsupervised import cluster, find_anomalies

IRIS = load_iris(as_frame=True)  # real measurements, shipped inside scikit-learn
IRIS_COLUMNS = [str(c) for c in IRIS.data.columns]
IRIS_SPECS = feature_specs({c: ColumnKind.NUMERIC for c in IRIS_COLUMNS}, IRIS_COLUMNS)
SPECIES = IRIS.target.to_numpy()  # 0 setosa, 1 versicolor, 2 virginica: segments we know


@pytest.fixture(scope="module")
def credit() -> pd.DataFrame:
    return pd.read_csv(EXAMPLES / "credit_g.csv")


def _png(encoded: str) -> bytes:
    return base64.b64decode(encoded)[:8]


def test_setosa_is_described_by_its_much_smaller_petals():
    setosa = describe_segments(IRIS.data, SPECIES, features=IRIS_SPECS)[0]
    assert setosa.traits[0].words == "petal length (cm) much lower (median 1.5 vs 4.9)"


def test_a_segment_gives_its_size_and_share():
    setosa = describe_segments(IRIS.data, SPECIES, features=IRIS_SPECS)[0]
    assert setosa.summary.startswith("Segment 0: 50 rows (33%)")


def test_a_category_level_over_represented_in_a_segment_is_named(credit: pd.DataFrame):
    specs = feature_specs(infer_schema(credit), [c for c in credit.columns if c != "class"])
    bad_credit = (credit["class"] == "bad").to_numpy().astype(int)
    risky = describe_segments(coerce_frame(credit, specs), bad_credit, features=specs)[1]
    assert "checking_status = '<0' more common (45% vs 20%)" in risky.summary


def test_typical_values_are_the_segment_median_and_most_common_level(credit: pd.DataFrame):
    specs = feature_specs(infer_schema(credit), ["age", "housing"])
    segment = describe_segments(coerce_frame(credit, specs), np.zeros(len(credit), dtype=int),
                                features=specs)[0]
    assert segment.typical == {"age": "33", "housing": "own (71%)"}


def test_hdbscan_noise_is_described_last_as_noise():
    labels = np.where(np.arange(150) < 5, -1, SPECIES)
    profiles = describe_segments(IRIS.data, labels, features=IRIS_SPECS)
    assert profiles[-1].summary.startswith("Noise (no segment): 5 rows")


def test_an_anomaly_is_explained_by_its_extreme_feature():
    typo = IRIS.data.iloc[[0]].assign(**{"petal length (cm)": 14.0})  # 1.4 cm typed as 14
    frame = pd.concat([IRIS.data, typo], ignore_index=True)
    scores = np.r_[np.zeros(150), 1.0]
    top = describe_anomalies(frame, scores, features=IRIS_SPECS, top=1)[0]
    assert (top.position, top.drivers[0].feature) == (150, "petal length (cm)")


def test_a_rare_category_level_drives_an_anomaly(credit: pd.DataFrame):
    specs = feature_specs(infer_schema(credit), ["purpose"])
    coerced = coerce_frame(credit, specs)
    rare_row = int(np.flatnonzero(credit["purpose"] == "retraining")[0])
    scores = np.eye(len(credit))[rare_row]
    top = describe_anomalies(coerced, scores, features=specs, top=1)[0]
    assert top.drivers[0].words == "purpose = 'retraining' is rare (0.9% of rows)"


def test_an_ordinary_row_is_called_an_unusual_combination():
    scores = np.eye(150)[75]  # a versicolor near the middle of everything
    top = describe_anomalies(IRIS.data, scores, features=IRIS_SPECS, top=1)[0]
    assert "no single feature is extreme" in top.summary


def test_numbers_are_written_as_a_person_writes_them():
    assert [number_text(v) for v in (82_000.0, 36.5, 12.0, 0.125)] == [
        "82,000", "36.5", "12", "0.125"]


def test_the_segment_plot_is_a_png():
    assert _png(segment_plot(IRIS.data.to_numpy(), SPECIES)) == b"\x89PNG\r\n\x1a\n"


def test_the_anomaly_plot_is_a_png():
    flagged = np.arange(150) == 0
    assert _png(anomaly_plot(IRIS.data.to_numpy(), flagged)) == b"\x89PNG\r\n\x1a\n"


def test_a_clustering_result_is_described_segment_by_segment():
    result = cluster(IRIS.data, features=IRIS_COLUMNS,
                     schema={c: ColumnKind.NUMERIC for c in IRIS_COLUMNS}, time_budget_s=10,
                     seed=0, method="kmeans", k=3)
    report = describe_clustering(result, IRIS.data)
    assert [s.n_rows for s in report.segments] == np.bincount(result.labels).tolist()


def test_an_anomaly_result_describes_its_top_rows(credit: pd.DataFrame):
    result = find_anomalies(credit, features=["duration", "credit_amount", "age"],
                            schema=infer_schema(credit), seed=0)
    report = describe_anomaly_result(result, credit, top=3)
    assert [a.position for a in report.anomalies] == np.argsort(-result.scores)[:3].tolist()
