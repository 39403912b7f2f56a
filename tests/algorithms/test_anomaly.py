"""The anomaly detectors: one score direction for all, thresholds, new rows, safe files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris

from trainforge.algorithms.anomaly import METHODS, AnomalyDetector, AnomalyModel
from trainforge.algorithms.model import FeatureSpec
from trainforge.data.dataset import ColumnKind
from trainforge.data.prepare import make_preprocessor
from trainforge.errors import ConfigError, UnknownAlgorithm
from trainforge.registry.safe_files import load_object, save_object

IRIS = load_iris(as_frame=True).data  # real measurements, shipped inside scikit-learn
COLUMNS = [str(c) for c in IRIS.columns]
# a typing slip on a real row: petal length 14 cm written for 1.4 cm
TYPO = IRIS.iloc[[0]].assign(**{"petal length (cm)": 14.0})
TABLE = pd.concat([IRIS, TYPO], ignore_index=True)
X = ((TABLE - IRIS.mean()) / IRIS.std()).to_numpy()


@pytest.mark.parametrize("method", METHODS)
def test_the_typo_row_scores_highest(method: str):
    scores = AnomalyDetector(method, seed=0).fit(X).scores_
    assert int(np.argmax(scores)) == len(X) - 1


@pytest.mark.parametrize("method", METHODS)
def test_the_typo_row_is_flagged_with_the_automatic_threshold(method: str):
    detector = AnomalyDetector(method, seed=0).fit(X)
    assert detector.predict(X[-1:]).tolist() == [1]


@pytest.mark.parametrize("method", METHODS)
def test_the_automatic_threshold_flags_few_ordinary_rows(method: str):
    flagged = AnomalyDetector(method, seed=0).fit(X).predict(X[:-1])
    assert flagged.mean() < 0.1


def test_a_contamination_share_flags_about_that_share_of_the_training_rows():
    detector = AnomalyDetector("isolation_forest", contamination=0.1, seed=0).fit(X)
    assert detector.predict(X).mean() == pytest.approx(0.1, abs=0.02)


def test_lof_scores_a_new_far_row_above_its_threshold():
    detector = AnomalyDetector("lof").fit(X[:-1])
    assert detector.anomaly_score(X[-1:])[0] > detector.threshold_


def test_lof_training_scores_do_not_count_a_row_as_its_own_neighbour():
    detector = AnomalyDetector("lof").fit(X)
    assert detector.scores_[0] == pytest.approx(-detector.detector_.negative_outlier_factor_[0])


def test_a_contamination_above_one_half_is_refused():
    with pytest.raises(ConfigError, match=r"a number in \(0, 0\.5\]"):
        AnomalyDetector(contamination=0.7).fit(X)


def test_an_unknown_method_names_the_known_ones():
    with pytest.raises(UnknownAlgorithm, match="Did you mean 'lof'"):
        AnomalyDetector("lofe").fit(X)


@pytest.mark.parametrize("method", METHODS)
def test_a_fitted_table_model_saves_and_loads_through_skops_with_the_same_scores(
        method: str, tmp_path: Path):
    schema = {c: ColumnKind.NUMERIC for c in COLUMNS}
    features = [FeatureSpec(c, ColumnKind.NUMERIC, "number").to_dict() for c in COLUMNS]
    model = AnomalyModel(features, make_preprocessor(schema, COLUMNS, style="linear"),
                         AnomalyDetector(method, seed=0)).fit(TABLE)
    loaded = load_object(save_object(model, tmp_path, stem="model"), tmp_path)
    np.testing.assert_allclose(loaded.anomaly_score(TABLE), model.anomaly_score(TABLE))
