"""Per-row contributions: they add up to the model's own output, over its original columns."""

from __future__ import annotations

import numpy as np
import pytest
from tests.algorithms._explained_models import fitted, outputs

from trainforge.algorithms.contributions import ModelExplainer, binary_link, softmax_link

EXACT = 1e-6


@pytest.mark.parametrize("library", ["lightgbm", "catboost", "forest"])
@pytest.mark.parametrize("table", ["credit_g", "wine", "concrete"])
def test_tree_contributions_plus_base_equal_the_output_to_1e_6(library: str, table: str):
    model, rows = fitted(table, library)
    explained = ModelExplainer(model).explain(rows.head(40))
    assert np.abs(explained.explained - outputs(model, rows.head(40))).max() < EXACT


@pytest.mark.parametrize("table", ["credit_g", "wine", "concrete"])
def test_xgboost_contributions_equal_the_output_to_its_float32_precision(table: str):
    # XGBoost computes both its output and its contributions in float32
    model, rows = fitted(table, "xgboost")
    explained = ModelExplainer(model).explain(rows.head(40))
    expected = outputs(model, rows.head(40))
    assert np.abs(explained.explained - expected).max() < EXACT * max(1.0, np.abs(expected).max())


def test_a_weighted_blend_is_explained_exactly_by_its_members_weights():
    model, rows = fitted("credit_g", "lightgbm", "forest", "catboost", weights=(3.0, 1.0, 2.0))
    explained = ModelExplainer(model).explain(rows.head(20))
    assert np.abs(explained.explained - outputs(model, rows.head(20))).max() < EXACT


def test_a_member_that_is_not_a_tree_is_explained_by_permutation_exactly_in_sum():
    model, rows = fitted("credit_g", "linear", style="linear")
    explained = ModelExplainer(model, background=rows.tail(50)).explain(rows.head(2))
    assert np.abs(explained.explained - outputs(model, rows.head(2))).max() < EXACT


def test_a_member_that_is_not_a_tree_without_a_background_is_refused_naming_it():
    model, _ = fitted("credit_g", "linear", style="linear")
    with pytest.raises(ValueError, match="linear are explained by permutation"):
        ModelExplainer(model)


def test_one_hot_columns_are_folded_back_into_their_source_column():
    model, rows = fitted("credit_g", "lightgbm", style="linear", max_one_hot=60)
    member = model.members[0]
    encoded = member.preprocessor.transform(rows.head(5))
    raw = member.estimator.booster_.predict(encoded, pred_contrib=True)[:, :-1]
    names = list(member.preprocessor.get_feature_names_out())
    purpose = [i for i, name in enumerate(names) if name.startswith("purpose=")]
    explained = ModelExplainer(model).explain(rows.head(5))
    column = explained.features.index("purpose")
    # the positive class's contribution is the margin's, scaled the same for every column
    scale = explained.values[:, 1].sum(axis=1) / raw.sum(axis=1)
    assert len(purpose) > 2
    assert explained.features == tuple(rows.columns)
    assert np.allclose(explained.values[:, 1, column], raw[:, purpose].sum(axis=1) * scale)


def test_a_binary_margin_is_carried_into_probability_exactly():
    values, base = np.array([[1.5, -0.25, 2.0]]), np.array([-0.5])
    probability, base_p = binary_link(values, base)
    assert np.isclose(base_p[0, 1] + probability[0, 1].sum(), 1 / (1 + np.exp(-2.75)))
    assert np.allclose(probability[0, 0], -probability[0, 1])


def test_multiclass_margins_are_carried_into_probabilities_exactly():
    rng = np.random.default_rng(0)
    values, base = rng.normal(scale=3.0, size=(4, 3, 5)), rng.normal(size=(4, 3))
    probability, base_p = softmax_link(values, base)
    margins = base + values.sum(axis=2)
    expected = np.exp(margins) / np.exp(margins).sum(axis=1, keepdims=True)
    assert np.abs(base_p + probability.sum(axis=2) - expected).max() < 1e-12
