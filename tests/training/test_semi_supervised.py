"""Rows without a target still teach: self-training and label spreading, chosen honestly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests._paths import EXAMPLES

from trainforge.config import TrainConfig
from trainforge.errors import UnusableTarget
from trainforge.jobs.train import run_training
from trainforge.workspace import Workspace


def _partly_labeled(tmp_path: Path, *, keep_share: float, seed: int = 0) -> Path:
    rows = pd.read_csv(EXAMPLES / "credit_g.csv")
    hidden = np.random.default_rng(seed).random(len(rows)) >= keep_share
    rows.loc[hidden, "class"] = None
    path = tmp_path / "credit_partly_labeled.csv"
    rows.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def partly_labeled_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any]]:
    tmp_path = tmp_path_factory.mktemp("semi")
    data = _partly_labeled(tmp_path, keep_share=0.4)
    workspace = Workspace(tmp_path / "home")
    outcome = run_training(TrainConfig(data=str(data), target="class", trials=2, seed=0),
                           workspace=workspace)
    lineage = workspace.registry.show("credit_partly_labeled")["lineage"]
    return outcome, lineage["semi_supervised"]


@pytest.mark.slow  # partly_labeled_run: a whole run, ~19 s at load
def test_unlabeled_rows_are_tried_and_the_report_compares_the_methods(partly_labeled_run):
    outcome, semi = partly_labeled_run
    methods = [row["method"] for row in semi["methods"]]
    assert semi["unlabeled_rows"] > 500 and methods[0] == "labeled only"
    assert {"self-training", "label spreading"} & set(methods)
    assert semi["kept"] in methods and "not the test split" in semi["chosen_on"]
    assert "semi_supervised" in (outcome.report_path.read_text())


@pytest.mark.slow  # partly_labeled_run: a whole run, ~19 s at load
def test_the_kept_method_scored_best_in_cross_validation(partly_labeled_run):
    _, semi = partly_labeled_run
    best = max(semi["methods"], key=lambda row: (row["check_score"],
                                                 row["method"] == "labeled only"))
    assert semi["kept"] == best["method"]  # roc_auc: higher is better


@pytest.mark.slow  # partly_labeled_run: a whole run, ~19 s at load
def test_methods_are_chosen_on_folds_of_every_labeled_training_row(partly_labeled_run):
    _, semi = partly_labeled_run
    assert semi["chosen_on"].startswith("5 cross-validation folds of the 298 labeled")


@pytest.mark.slow  # partly_labeled_run: a whole run, ~19 s at load
def test_self_training_reports_the_rounds_cross_validation_chose(partly_labeled_run):
    _, semi = partly_labeled_run
    row = next(r for r in semi["methods"] if r["method"] == "self-training")
    assert len(row["check_score_by_rounds"]) == 3
    assert row["check_score"] == max(row["check_score_by_rounds"])


@pytest.mark.slow
def test_a_kept_semi_supervised_method_is_refitted_on_every_labelled_row(tmp_path):
    from sklearn.datasets import make_moons

    # two interleaved moons: a line through 40 labels misses them, the graph of all rows not
    X, y = make_moons(n_samples=800, noise=0.08, random_state=0)
    rows = pd.DataFrame({"x1": X[:, 0], "x2": X[:, 1], "moon": np.where(y == 1, "b", "a")})
    hidden = np.random.default_rng(0).random(len(rows)) >= 0.05
    rows.loc[hidden, "moon"] = None
    rows.to_csv(tmp_path / "moons.csv", index=False)
    workspace = Workspace(tmp_path / "home")
    outcome = run_training(TrainConfig(data=str(tmp_path / "moons.csv"), target="moon",
                                       algorithm="linear", trials=1, seed=0),
                           workspace=workspace)
    lineage = workspace.registry.show("moons")["lineage"]
    assert outcome.semi_supervised["kept"] == "label spreading"
    assert lineage["refit"].startswith(f"refitted on all {(~hidden).sum()} labelled rows")


def test_a_table_with_every_row_unlabeled_says_so(tmp_path):
    data = _partly_labeled(tmp_path, keep_share=0.0)
    with pytest.raises(UnusableTarget, match="every row is missing"):
        run_training(TrainConfig(data=str(data), target="class", trials=1),
                     workspace=Workspace(tmp_path / "home"))


def test_labeled_rows_of_one_class_only_are_refused_naming_the_class(tmp_path):
    rows = pd.read_csv(EXAMPLES / "credit_g.csv")
    rows.loc[rows["class"] == "bad", "class"] = None
    rows.to_csv(tmp_path / "one_class.csv", index=False)
    with pytest.raises(UnusableTarget, match="good"):
        run_training(TrainConfig(data=str(tmp_path / "one_class.csv"), target="class",
                                 trials=1), workspace=Workspace(tmp_path / "home"))


def test_label_spreading_gives_a_row_far_from_any_label_the_class_shares():
    from trainforge.algorithms.label_spreading import SpreadLabels

    X = np.array([[0.0], [0.1], [0.2], [10.0], [10.1], [10.2], [50.0], [50.1]])
    y = np.array([0, 0, 1, -1, -1, -1, -1, -1])
    proba = SpreadLabels(kernel="knn", n_neighbors=2).fit(X, y).predict_proba(X)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba[-1], [2 / 3, 1 / 3])


@pytest.mark.slow
def test_a_pessimistic_refit_estimate_is_corrected_by_one_timed_refit():
    import dataclasses
    import time

    from tests.training._tables import FEATURES, SCHEMA, table

    from trainforge.data.task import TaskKind
    from trainforge.training.automl import search
    from trainforge.training.refit import refit_estimate_s
    from trainforge.training.semi_supervised import timed_recipe

    frame, task = table(TaskKind.BINARY, 400)
    labeled, unlabeled = frame.iloc[:200], frame.iloc[200:].drop(columns="y")
    # 50 trees, not the default 300: the timed refit is what is checked, at any size
    result = search(labeled, task=task, schema=SCHEMA, features=FEATURES, deadline=None,
                    trials=1, seed=0, algorithm="random_forest",
                    fixed_params={"n_estimators": 50})
    # as on telco churn: the estimate says a refit takes far longer than it does
    slow = dataclasses.replace(result, chosen=[dataclasses.replace(c, fit_time_s=300.0)
                                               for c in result.chosen])
    started = time.monotonic()
    timed = timed_recipe(slow, labeled, unlabeled, task=task, schema=SCHEMA,
                         features=FEATURES, seed=0, deadline=started + 600.0)
    took = time.monotonic() - started
    assert refit_estimate_s(slow.chosen, n_rows=200) > 50
    # timed on the first round: the labeled rows and a quarter of the unlabeled ones
    assert refit_estimate_s(timed.chosen, n_rows=250) == pytest.approx(took, abs=0.5)
