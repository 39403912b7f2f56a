"""The reference profile a package carries: small, JSON, seeded."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from trainforge.algorithms.model import FeatureSpec
from trainforge.data.dataset import ColumnKind
from trainforge.data.task import Task, TaskKind
from trainforge.monitoring.reference import build_reference

REGRESSION = Task(target="price", kind=TaskKind.REGRESSION, metric="rmse")
AREA = [FeatureSpec("area", ColumnKind.NUMERIC, "number")]


def _frame(n_rows: int = 5_000) -> pd.DataFrame:
    area = np.random.default_rng(0).normal(80, 20, n_rows)
    area[:50] = np.nan
    return pd.DataFrame({"area": area})


def test_a_regressors_predictions_are_profiled_as_numbers():
    reference = build_reference(_frame(), AREA, predictions=np.linspace(0, 1, 500),
                                task=REGRESSION, seed=0)
    prediction = reference["prediction"]
    assert (prediction["kind"], len(prediction["edges"]), len(prediction["sample"])) == (
        "numeric", 9, 500)


def test_a_number_keeps_at_most_1000_values_the_same_for_the_same_seed():
    first, again = (build_reference(_frame(), AREA, predictions=None, task=REGRESSION, seed=3)
                    for _ in range(2))
    assert len(first["features"]["area"]["sample"]) == 1_000 and first == again


def test_missing_values_are_a_share_and_the_reference_is_strict_json():
    reference = build_reference(_frame(), AREA, predictions=None, task=REGRESSION, seed=0)
    assert reference["features"]["area"]["missing"] == 0.01
    json.dumps(reference, allow_nan=False)
