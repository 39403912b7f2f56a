"""`trainforge update --method windows`: the model's pipeline refitted on nested windows of
its training data followed by its labelled feedback, blended by the newest rows."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from tests.jobs._online import FEATURES, labelled, trained
from tests.monitoring._served import copy_home
from tests.training._tables import table

from trainforge.config import RetrainPolicy
from trainforge.data.task import TaskKind
from trainforge.errors import OriginalDataGone
from trainforge.jobs.retrain import check_model, set_policy
from trainforge.jobs.update import trees_from, update_model
from trainforge.workspace import Workspace


@pytest.fixture(scope="module")
def flipped_home(churn_home_of: Callable[[str], Path],
                 tmp_path_factory: pytest.TempPathFactory) -> Path:
    """churn:1 (LightGBM on 200 rows, tests/conftest.py's, copied), deployed; 300 predictions
    labelled with the class they are not: the concept has turned round since training."""
    folder = tmp_path_factory.mktemp("windows")
    ws = copy_home(churn_home_of("lightgbm"), folder)
    labelled(ws, n_rows=300)
    ws.close()
    return folder


@pytest.fixture
def ws(flipped_home: Path, tmp_path: Path) -> Workspace:
    shutil.copytree(flipped_home, tmp_path, dirs_exist_ok=True)
    return Workspace(tmp_path / "home")


def _accuracy_on_the_new_concept(ws: Workspace, ref: str) -> float:
    frame, _ = table(TaskKind.BINARY, n_rows=400, seed=11)
    flipped = frame["y"].map({"yes": "no", "no": "yes"})
    return float((ws.registry.load(ref).tabular.predict(frame[FEATURES]) == flipped).mean())


def test_a_windows_update_follows_the_turned_concept_better_than_its_parent(ws: Workspace):
    update_model(ws, "churn", method="windows")
    before, after = (_accuracy_on_the_new_concept(ws, f"churn:{v}") for v in (1, 2))
    assert after > before + 0.2


def test_the_new_version_records_its_windows_and_their_weights(ws: Workspace):
    outcome = update_model(ws, "churn", method="windows")
    update = ws.registry.show("churn:2")["lineage"]["update"]
    windows = update["windows"]
    assert (update["method"], windows["sizes"], windows["holdout_rows"],
            round(sum(windows["weights"]), 6), outcome.version.aliases) == (
        "windows", [128, 500], 100, 1.0, ("challenger",))


def test_each_window_gets_boosting_rounds_for_its_rows_counted_from_the_first_version(
        ws: Workspace):
    update_model(ws, "churn", method="windows")
    parent, child = ws.registry.load("churn:1"), ws.registry.load("churn:2")
    windows = ws.registry.show("churn:2")["lineage"]["update"]["windows"]
    start = windows["trees_from"]
    members = {m.estimator.best_iteration_ for m in child.tabular.members}
    # churn:1: its trees for its 200 training rows; the windows: 128 rows (fewer trees) and
    # all 500 (more); churn:2 passes the same count on, so a next update does not compound
    first_trees = parent.tabular.members[0].estimator.best_iteration_
    assert (start, windows["trees"][0] < first_trees < windows["trees"][1],
            members <= set(windows["trees"]), trees_from(child)) == (
        {"trees": first_trees, "rows": 200}, True, True, trees_from(parent))


def test_every_window_is_the_parents_own_algorithm(ws: Workspace):
    update_model(ws, "churn", method="windows")
    members = ws.registry.load("churn:2").tabular.members
    assert {m.algorithm for m in members} == {"lightgbm"}


def test_a_policy_that_learns_by_windows_refits_on_windows_when_it_fires(ws: Workspace):
    set_policy(ws, "churn", RetrainPolicy(new_labels=5, learn="windows"), updated_by="ann")
    event = check_model(ws, "churn").event
    assert event is not None
    assert (event["outcome"],
            ws.registry.show("churn@challenger")["lineage"]["update"]["method"]) == (
        "succeeded", "windows")


@pytest.mark.slow  # a whole training first: seconds (measured on the loaded VM, 2026-12-06)
def test_a_windows_update_whose_training_data_is_gone_says_so_and_registers_nothing(
        tmp_path: Path):
    ws = trained(tmp_path, "lightgbm")
    labelled(ws, n_rows=300)
    (tmp_path / "churn.csv").unlink()
    with pytest.raises(OriginalDataGone, match="churn.csv"):
        update_model(ws, "churn", method="windows")
    assert [v.version for v in ws.registry.versions("churn")] == [1]


def test_the_rows_of_a_windows_update_are_the_training_data_then_the_feedback(ws: Workspace):
    update_model(ws, "churn", method="windows")
    shown = ws.registry.show("churn:2")
    assert (shown["lineage"]["update"]["n_rows"],
            np.isfinite(shown["metrics"]["windows_holdout"]["log_loss"])) == (300, True)
