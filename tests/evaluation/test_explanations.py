"""The report's global explanations: mean |SHAP| per column and dependence plots."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest
from tests.algorithms._explained_models import fitted
from tests.evaluation.test_report import render

from trainforge.algorithms.model import TabularModel
from trainforge.data.task import TaskKind
from trainforge.evaluation.explanations import global_explanation


@pytest.fixture(scope="module")
def credit_blend():
    return fitted("credit_g", "lightgbm", "catboost", weights=(2.0, 1.0))


def test_every_input_column_is_ranked_by_its_mean_absolute_contribution(credit_blend):
    model, rows = credit_blend
    explanation = global_explanation(model, rows, plots=False)
    sizes = [size for _, size in explanation.importance]
    assert {name for name, _ in explanation.importance} == set(rows.columns)
    assert sizes == sorted(sizes, reverse=True)
    assert explanation.explained == "probability of 'good'"


def test_the_top_columns_get_a_dependence_plot(credit_blend):
    model, rows = credit_blend
    explanation = global_explanation(model, rows.head(80))
    top = [name for name, _ in explanation.importance[:3]]
    assert list(explanation.dependence) == top
    assert all(base64.b64decode(png)[:4] == b"\x89PNG" for png in explanation.dependence.values())


def test_the_sample_explained_is_bounded(credit_blend):
    model, rows = credit_blend
    many = rows.sample(n=2_000, replace=True, random_state=0)
    assert global_explanation(model, many, plots=False).n_rows == 300


def test_a_clustering_model_has_no_global_explanation(credit_blend):
    model, rows = credit_blend
    segments = TabularModel(task=replace(model.task, kind=TaskKind.CLUSTERING, classes=()),
                            features=model.features, members=model.members)
    assert global_explanation(segments, rows) is None


def test_the_report_shows_the_explanations_section(tmp_path, credit_blend, credit):
    model, rows = credit_blend
    html = render(tmp_path, credit[0], credit[2],
                  explanation=global_explanation(model, rows.head(60)))
    assert "Why it predicts what it does" in html
    assert 'alt="Dependence on' in html
