"""`train(..., sensitive_features=, fairness_constraint=)`: the groups assessed on the test split
(fairness.json, the run's metrics, the report), the constrained model registered with its
per-group thresholds, served as it predicts in-process; and the inputs refused before any
search."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from rich.console import Console

import trainforge as tf
from trainforge.cli.progress import TrainingDisplay
from trainforge.errors import (
    ColumnNotFound,
    FairnessConstraintNotApplicable,
    InvalidRequest,
    SensitiveFeatureUnusable,
)
from trainforge.model import TrainedModel
from trainforge.serving.app import create_app
from trainforge.store.runs import get_run
from trainforge.workspace import Workspace

N_ROWS = 800


@pytest.fixture(scope="module")
def biased(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Men are approved far more often; x2 stands in for sex when the column is left out."""
    rng = np.random.default_rng(0)
    sex = rng.choice(["F", "M"], N_ROWS)
    male = (sex == "M").astype(float)
    x1, x2 = rng.normal(size=N_ROWS), male + 0.4 * rng.normal(size=N_ROWS)
    label = np.where(x1 + 1.5 * male + 0.3 * rng.normal(size=N_ROWS) > 0.8, "yes", "no")
    path = tmp_path_factory.mktemp("fair") / "loans.csv"
    pd.DataFrame({"x1": x1, "x2": x2, "sex": sex, "country": "NL",
                  "approved": label}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def assessed(biased: Path, workspace: Workspace) -> TrainedModel:
    return tf.train(biased, target="approved", trials=1, algorithm="linear", name="assessed",
                    sensitive_features=["sex"], workspace=workspace)


@pytest.fixture(scope="module")
def constrained(biased: Path, workspace: Workspace) -> TrainedModel:
    return tf.train(biased, target="approved", trials=1, algorithm="linear", name="constrained",
                    sensitive_features=["sex"], sensitive_as_features=False,
                    fairness_constraint="demographic_parity", workspace=workspace)


def fairness_of(model: TrainedModel) -> dict:
    return json.loads((model.outcome.version.path / "fairness.json").read_text())


def rows(path: Path, n_rows: int = 60) -> pd.DataFrame:
    return pd.read_csv(path).drop(columns=["approved"]).head(n_rows)


def test_the_package_holds_each_groups_figures_from_the_test_split(assessed):
    found = fairness_of(assessed)
    assert [(g["feature"], g["group"]) for g in found["groups"]] == [("sex", "F"), ("sex", "M")]
    assert sum(g["size"] for g in found["groups"]) == assessed.outcome.evaluation.n_rows


def test_the_run_records_the_disparities_as_metrics(assessed, workspace):
    metrics = get_run(workspace, assessed.outcome.run_id)["metrics"]
    assert "fairness_demographic_parity_difference" in metrics


def test_the_report_has_a_fairness_section_with_the_selection_rate_plot(assessed):
    report = assessed.outcome.report_path.read_text()
    assert 'id="fairness"' in report and 'alt="Selection rate per group"' in report


def test_the_demographic_parity_constraint_at_least_halves_the_disparity(constrained):
    before, after = fairness_of(constrained)["comparison"]
    assert (before["model"], after["model"]) == ("unconstrained", "constrained")
    assert after["demographic_parity_difference"] <= before["demographic_parity_difference"] / 2


def test_left_out_sensitive_columns_are_not_learned_from_but_required_inputs(constrained):
    model = constrained.loaded.tabular
    assert "sex" not in [spec.name for spec in model.features]
    assert "sex" in [spec.name for spec in model.signature]


def test_a_constrained_model_refuses_rows_without_the_sensitive_column(constrained, biased):
    with pytest.raises(InvalidRequest, match="column 'sex' is needed"):
        constrained.loaded.tabular.predict(rows(biased).drop(columns=["sex"]))


def test_the_served_prediction_of_a_constrained_model_equals_the_in_process_one(constrained,
                                                                                biased):
    frame = rows(biased)
    client = TestClient(create_app({"loans": constrained.loaded}))
    served = client.post("/v1/models/loans/predict",
                         json={"records": frame.to_dict(orient="records")}).json()
    assert served["predictions"] == constrained.loaded.tabular.predict(frame).tolist()


def test_a_served_request_without_the_sensitive_column_is_a_422_naming_it(constrained, biased):
    client = TestClient(create_app({"loans": constrained.loaded}))
    record = rows(biased, 1).drop(columns=["sex"]).to_dict(orient="records")
    answer = client.post("/v1/models/loans/predict", json={"records": record})
    assert answer.status_code == 422 and "sex" in answer.text


def test_a_sensitive_feature_that_does_not_exist_is_named_with_the_close_names(biased, tmp_path):
    with pytest.raises(ColumnNotFound, match=r"'sexe'.*Did you mean 'sex'\?"):
        tf.train(biased, target="approved", trials=1, sensitive_features=["sexe"],
                 workspace=Workspace(tmp_path))


def test_a_sensitive_feature_with_one_group_is_refused(biased, tmp_path):
    with pytest.raises(SensitiveFeatureUnusable, match="'country'.*one group"):
        tf.train(biased, target="approved", trials=1, sensitive_features=["country"],
                 workspace=Workspace(tmp_path))


def test_a_constraint_on_a_regression_is_refused_saying_it_is_for_binary_classification(
        biased, tmp_path):
    with pytest.raises(FairnessConstraintNotApplicable, match="binary classification"):
        tf.train(biased, target="x1", trials=1, sensitive_features=["sex"],
                 fairness_constraint="equalized_odds", workspace=Workspace(tmp_path))


def test_the_cli_summary_shows_the_group_table_and_the_constraints_trade_off(constrained):
    display = TrainingDisplay(constrained.outcome.config, started_at=0.0)
    display.console = Console(record=True, width=120)
    display.summary(constrained.outcome)
    shown = display.console.export_text()
    assert "Fairness across sex (test split)" in shown and "selection rate" in shown
    assert "Constraint demographic_parity: demographic parity difference" in shown
    assert "predictions need sex" in shown
