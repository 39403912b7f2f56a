"""Drift per window: a shifted sample is flagged, one from the same distribution is not; schema
violations are counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from trainforge.algorithms.model import FeatureSpec
from trainforge.data.dataset import ColumnKind
from trainforge.data.task import Task, TaskKind
from trainforge.errors import ConfigError
from trainforge.monitoring.drift import Window, compare_window, split_windows
from trainforge.monitoring.performance import performance_over_time
from trainforge.monitoring.reference import build_reference

TASK = Task(target="churned", kind=TaskKind.BINARY, metric="accuracy", classes=("no", "yes"))
FEATURES = [FeatureSpec("age", ColumnKind.NUMERIC, "number"),
            FeatureSpec("plan", ColumnKind.CATEGORICAL, "string"),
            FeatureSpec("note", ColumnKind.TEXT, "string")]
PLANS = ["basic", "pro", "team"]


def _training(n_rows: int = 5_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.normal(40, 10, n_rows),
                         "plan": rng.choice(PLANS, n_rows, p=[0.6, 0.3, 0.1]),
                         "note": ["free text"] * n_rows})


def _reference() -> dict:
    rng = np.random.default_rng(1)
    return build_reference(_training(), FEATURES, predictions=rng.choice(["no", "yes"], 1_000),
                           task=TASK, seed=0)


def _logged(*, age_mean: float = 40, plans: tuple[float, ...] = (0.6, 0.3, 0.1),
            n_rows: int = 1_000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return pd.DataFrame({
        "time": [start + timedelta(minutes=i) for i in range(n_rows)],
        "in.age": rng.normal(age_mean, 10, n_rows),
        "in.plan": rng.choice(PLANS, n_rows, p=list(plans)),
        "out.prediction": rng.choice(["no", "yes"], n_rows)})


def _column(result, name: str):
    return next(c for c in result.features if c.name == name)


def test_a_sample_from_the_training_distribution_is_not_drifted():
    result = compare_window(_logged(), _reference())
    assert result.drifted_features == []
    assert not result.prediction.drifted


def test_a_shifted_number_is_flagged_by_psi_and_ks():
    age = _column(compare_window(_logged(age_mean=52), _reference()), "age")
    assert age.drifted
    assert age.test("psi").statistic >= 0.2 and age.test("ks").p_value < 0.01


def test_changed_category_shares_are_flagged_by_chi_squared_and_jensen_shannon():
    plan = _column(compare_window(_logged(plans=(0.2, 0.3, 0.5)), _reference()), "plan")
    assert plan.drifted
    assert plan.test("js").statistic >= 0.1 and plan.test("chi2").p_value < 0.01


def test_a_window_of_up_to_1000_rows_is_judged_by_its_test():
    age = _column(compare_window(_logged(age_mean=43), _reference()), "age")
    assert age.drifted and not age.test("psi").drifted


def test_a_larger_window_is_judged_by_its_distance():
    age = _column(compare_window(_logged(age_mean=42.5, n_rows=5_000), _reference()), "age")
    assert age.test("ks").drifted and not age.drifted


def test_p_values_are_judged_after_a_bonferroni_correction_for_the_columns_compared():
    age = _column(compare_window(_logged(), _reference()), "age")
    assert age.test("ks").threshold == pytest.approx(0.01 / 3)  # age, plan and the prediction


def test_a_new_category_and_out_of_range_numbers_are_counted():
    rows = _logged(n_rows=100)
    rows.loc[:4, "in.plan"] = "enterprise"
    rows.loc[:2, "in.age"] = 500.0
    result = compare_window(rows, _reference())
    assert (_column(result, "plan").new_categories, _column(result, "age").out_of_range) == (5, 3)


def test_values_of_the_wrong_type_are_counted():
    rows = _logged(n_rows=100).astype({"in.age": object})
    rows.loc[:1, "in.age"] = "forty"
    assert _column(compare_window(rows, _reference()), "age").wrong_type == 2


def test_missing_values_are_shown_beside_the_training_share():
    rows = _logged(n_rows=100)
    rows.loc[:9, "in.age"] = np.nan
    age = _column(compare_window(rows, _reference()), "age")
    assert (age.missing_share, age.reference_missing_share) == (0.1, 0.0)


def test_a_hashed_column_is_skipped_and_says_why():
    plan = _column(compare_window(_logged(), _reference(), hashed=("plan",)), "plan")
    assert (plan.kind, plan.skipped) == ("skipped", "hashed by the log policy")


def test_a_text_column_is_not_compared():
    assert _column(compare_window(_logged(), _reference()), "note").kind == "skipped"


def test_windows_by_count_and_by_time():
    rows = _logged(n_rows=250)  # one a minute
    by_count = [len(w) for w in split_windows(rows, Window.parse("100"))]
    by_time = [len(w) for w in split_windows(rows, Window.parse("1h"))]
    assert (by_count, by_time) == ([100, 100, 50], [60, 60, 60, 60, 10])


def test_a_window_that_is_neither_a_count_nor_a_span_is_refused():
    with pytest.raises(ConfigError, match=r"window is neither a row count.*--window"):
        Window.parse("1w")


def test_the_metric_is_scored_per_window_of_labelled_rows():
    rows = _logged(n_rows=200)
    rows["label"] = rows["out.prediction"]
    rows.loc[100:, "label"] = np.where(rows.loc[100:, "out.prediction"] == "yes", "no", "yes")
    points = performance_over_time(rows, task=TASK, metric="accuracy",
                                   window=Window.parse("100"))
    assert [p.value for p in points] == [1.0, 0.0]


def test_a_window_the_metric_cannot_score_is_none_in_the_json_answer():
    from trainforge.monitoring.monitor import Monitoring

    rows = _logged(n_rows=100)
    rows["label"] = "yes"  # one class: roc_auc is undefined
    points = performance_over_time(rows, task=TASK, metric="roc_auc", window=Window(n_rows=100))
    result = Monitoring(deployment="churn", model="churn:1", window="100 rows", n_rows=100,
                        windows=(), note=None, metric="roc_auc", test_metrics={},
                        performance=tuple(points))
    assert result.to_dict()["performance"][0]["value"] is None


def test_rare_categories_are_pooled_so_a_small_window_of_the_same_mix_is_not_drifted():
    rng = np.random.default_rng(3)
    countries = ["US", "MX", *[f"c{i}" for i in range(40)]]
    shares = np.array([0.9, 0.02, *[0.08 / 40] * 40])
    spec = [FeatureSpec("country", ColumnKind.CATEGORICAL, "string")]
    reference = build_reference(pd.DataFrame({"country": rng.choice(countries, 20_000, p=shares)}),
                                spec, predictions=None, task=TASK, seed=0)
    windows = [pd.DataFrame({"in.country": rng.choice(countries, 250, p=shares)})
               for _ in range(20)]
    assert not any(compare_window(w, reference).features[0].drifted for w in windows)


def test_the_report_draws_the_metric_over_time_beside_the_test_metric_when_labels_came():
    from trainforge.monitoring.monitor import Monitoring
    from trainforge.monitoring.report import monitoring_plots

    rows = _logged(n_rows=200)
    rows["label"] = rows["out.prediction"]
    points = performance_over_time(rows, task=TASK, metric="accuracy", window=Window(n_rows=100))
    result = Monitoring(deployment="churn", model="churn:1", window="100 rows", n_rows=200,
                        windows=(), note=None, metric="accuracy",
                        test_metrics={"accuracy": 0.8}, performance=tuple(points))
    assert list(monitoring_plots(result)) == ["accuracy over time"]


def test_a_category_test_left_with_one_category_reports_no_drift_and_a_real_p_value():
    from trainforge.monitoring.drift import chi2_test

    result = chi2_test(np.array([40.0]), np.array([1.0]), alpha=0.01)
    assert (result.statistic, result.p_value, result.drifted) == (0.0, 1.0, False)
