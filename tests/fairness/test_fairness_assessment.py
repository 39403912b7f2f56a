"""`evaluation.fairness.assess`: the group table (Fairlearn's MetricFrame), the disparities and
their bootstrap intervals, for binary, multiclass and regression predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
)

from trainforge.data.task import Task, TaskKind
from trainforge.evaluation.fairness import MIN_GROUP_ROWS, assess

BINARY = Task("y", TaskKind.BINARY, "roc_auc", ("no", "yes"))
MULTICLASS = Task("y", TaskKind.MULTICLASS, "balanced_accuracy", ("a", "b", "c"))
REGRESSION = Task("y", TaskKind.REGRESSION, "r2")


def tiny() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Eight rows, two groups of four, counted by hand below."""
    y_true = np.array([1, 1, 0, 0, 1, 0, 0, 0])
    y_pred = np.array([1, 0, 1, 0, 1, 1, 0, 0])
    sex = pd.DataFrame({"sex": ["F", "F", "F", "F", "M", "M", "M", "M"]})
    return y_true, y_pred, sex


def row(record: dict, feature: str, group: str) -> dict:
    return next(g for g in record["groups"] if g["feature"] == feature and g["group"] == group)


def test_the_group_table_matches_a_hand_computation_on_a_tiny_table():
    y_true, y_pred, sex = tiny()
    found = assess(y_true, y_pred, sensitive=sex, task=BINARY, seed=0)
    # F: predicted 1,0,1,0 for truth 1,1,0,0; M: 1,1,0,0 for truth 1,0,0,0
    assert row(found, "sex", "F") == {"feature": "sex", "group": "F", "size": 4,
                                      "selection_rate": 0.5, "true_positive_rate": 0.5,
                                      "false_positive_rate": 0.5, "accuracy": 0.5,
                                      "error": None}
    assert row(found, "sex", "M") == {"feature": "sex", "group": "M", "size": 4,
                                      "selection_rate": 0.5, "true_positive_rate": 1.0,
                                      "false_positive_rate": 1 / 3, "accuracy": 0.75,
                                      "error": None}


def test_the_record_has_the_shape_the_model_card_reads():
    y_true, y_pred, sex = tiny()
    found = assess(y_true, y_pred, sensitive=sex, task=BINARY, seed=0)
    assert {"sensitive_features", "constraint", "groups", "summary", "notes"} <= set(found)
    assert set(found["summary"]) == {"demographic_parity_difference",
                                     "demographic_parity_ratio", "equalized_odds_difference",
                                     "equalized_odds_ratio"}
    assert found["sensitive_features"] == ["sex"] and found["constraint"] is None


@pytest.mark.parametrize(("key", "fairlearns"), [
    ("demographic_parity_difference", demographic_parity_difference),
    ("demographic_parity_ratio", demographic_parity_ratio),
    ("equalized_odds_difference", equalized_odds_difference),
    ("equalized_odds_ratio", equalized_odds_ratio)])
def test_each_disparity_is_fairlearns(key, fairlearns):
    rng = np.random.default_rng(1)
    groups = pd.DataFrame({"race": rng.choice(["x", "y", "z"], 600)})
    y_true, y_pred = rng.integers(0, 2, 600), rng.integers(0, 2, 600)
    found = assess(y_true, y_pred, sensitive=groups, task=BINARY, seed=0)
    assert found["summary"][key]["value"] == pytest.approx(
        fairlearns(y_true, y_pred, sensitive_features=groups["race"]))


def test_the_interval_brackets_the_disparity_on_a_table_of_big_groups():
    rng = np.random.default_rng(2)
    groups = pd.DataFrame({"sex": rng.choice(["F", "M"], 2_000)})
    y_true = rng.integers(0, 2, 2_000)
    y_pred = (rng.random(2_000) < np.where(groups["sex"] == "F", 0.3, 0.5)).astype(int)
    found = assess(y_true, y_pred, sensitive=groups, task=BINARY, seed=0)
    parity = found["summary"]["demographic_parity_difference"]
    assert parity["low"] < parity["value"] < parity["high"]


def test_two_sensitive_features_are_assessed_alone_and_intersected():
    rng = np.random.default_rng(3)
    groups = pd.DataFrame({"sex": rng.choice(["F", "M"], 400), "race": rng.choice(["x", "y"], 400)})
    found = assess(rng.integers(0, 2, 400), rng.integers(0, 2, 400), sensitive=groups,
                   task=BINARY, seed=0)
    assert {g["feature"] for g in found["groups"]} == {"sex", "race", "sex×race"}
    assert row(found, "sex×race", "F×x")["size"] == int(((groups.sex == "F") & (groups.race == "x")).sum())


def test_a_group_too_small_for_an_interval_is_reported_not_a_crash():
    rng = np.random.default_rng(4)
    groups = pd.DataFrame({"sex": ["F"] * 300 + ["M"] * 300 + ["X"] * 3})
    found = assess(rng.integers(0, 2, 603), rng.integers(0, 2, 603), sensitive=groups,
                   task=BINARY, seed=0)
    assert row(found, "sex", "X")["size"] == 3
    assert any("'X'" in note and f"fewer than {MIN_GROUP_ROWS}" in note for note in found["notes"])
    assert found["summary"]["demographic_parity_difference"]["low"] is not None


def test_a_multiclass_model_is_assessed_one_vs_rest_each_class():
    groups = pd.DataFrame({"sex": ["F"] * 4 + ["M"] * 4})
    y_true = np.array([0, 1, 2, 0, 0, 1, 2, 0])
    y_pred = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    found = assess(y_true, y_pred, sensitive=groups, task=MULTICLASS, seed=0)
    assert row(found, "sex", "F")["selection_rate_by_class"] == {"a": 1.0, "b": 0.0, "c": 0.0}
    # class a: F chosen 4/4, M 0/4, the worst of the three classes
    assert found["summary"]["demographic_parity_difference"]["value"] == 1.0


def test_a_regressor_is_assessed_by_its_error_per_group():
    groups = pd.DataFrame({"sex": ["F", "F", "M", "M"]})
    found = assess(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 3.0, 3.0, 7.0]),
                   sensitive=groups, task=REGRESSION, seed=0)
    assert [row(found, "sex", g)["error"] for g in ("F", "M")] == [0.5, 1.5]
    assert found["summary"]["error_difference"]["value"] == 1.0
    assert found["summary"]["demographic_parity_difference"]["value"] is None
