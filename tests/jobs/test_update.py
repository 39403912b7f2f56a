"""Updating a model on its feedback: the members that can learn more (online_linear, LightGBM)
learn the labelled rows, a new version is registered with its lineage, and the version it
came from is left as it was."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from tests.jobs._online import FEATURES, labelled
from tests.monitoring._served import copy_home
from tests.training._tables import table

from trainforge.config import RetrainPolicy
from trainforge.data.task import TaskKind
from trainforge.errors import ModelCannotUpdate, NoFeedbackToTrainOn
from trainforge.jobs.retrain import check_model, set_policy
from trainforge.jobs.update import update_model
from trainforge.store import jobs as job_store
from trainforge.workspace import Workspace


def _yes(ws: Workspace, ref: str) -> float:
    frame, _ = table(TaskKind.BINARY, n_rows=60, seed=7)
    model = ws.registry.load(ref).tabular
    return float(model.predict_proba(frame[FEATURES])[:, model.classes.index("yes")].mean())


@pytest.fixture
def online_home(churn_home_of: Callable[[str], Path]) -> Path:
    return churn_home_of("online_linear")  # tests/conftest.py: trained once, copied by each


def test_an_online_model_updated_on_labels_moves_its_predictions_toward_them(
        online_home: Path, tmp_path: Path):
    ws = copy_home(online_home, tmp_path)
    labelled(ws, label="yes")
    outcome = update_model(ws, "churn")
    assert (outcome.version.version, _yes(ws, "churn:2") > _yes(ws, "churn:1")) == (2, True)


def test_an_update_leaves_its_parent_version_as_it_was(online_home: Path, tmp_path: Path):
    ws = copy_home(online_home, tmp_path)
    before = (_yes(ws, "churn:1"), ws.registry.show("churn:1")["files"])
    labelled(ws)
    update_model(ws, "churn")
    assert (_yes(ws, "churn:1"), ws.registry.show("churn:1")["files"]) == before


def test_the_new_version_names_its_parent_rows_and_requests_and_is_the_challenger(
        online_home: Path, tmp_path: Path):
    ws = copy_home(online_home, tmp_path)
    request_id = labelled(ws, n_rows=12)
    update_model(ws, "churn")
    shown = ws.registry.show("churn:2")
    update = shown["lineage"]["update"]
    assert (shown["lineage"]["parent"], update["n_rows"],
            update["predictions"]["first_request_id"], update["updated_members"],
            shown["aliases"]) == ({"name": "churn", "version": 1}, 12, request_id,
                                  ["online_linear"], ["challenger"])


def test_a_second_update_learns_only_the_rows_after_the_first(online_home: Path,
                                                              tmp_path: Path):
    ws = copy_home(online_home, tmp_path)
    labelled(ws, n_rows=12)
    update_model(ws, "churn")
    with pytest.raises(NoFeedbackToTrainOn, match="no prediction logged after"):
        update_model(ws, "churn")


def test_a_model_without_feedback_is_not_updated_and_says_to_send_labels(
        online_home: Path, tmp_path: Path):
    ws = copy_home(online_home, tmp_path)
    with pytest.raises(NoFeedbackToTrainOn, match="trainforge feedback"):
        update_model(ws, "churn")


def test_a_lightgbm_model_continues_with_more_trees_as_a_new_version(
        churn_home_of: Callable[[str], Path], tmp_path: Path):
    ws = copy_home(churn_home_of("lightgbm"), tmp_path)
    labelled(ws)
    update_model(ws, "churn", rounds=5)
    trees = [ws.registry.load(f"churn:{v}").tabular.members[0].estimator
             .booster_.current_iteration() for v in (1, 2)]
    assert trees[1] == trees[0] + 5


@pytest.mark.slow  # a whole training first: seconds (measured on the loaded VM, 2026-12-06)
def test_a_model_that_cannot_learn_in_place_says_which_algorithms_and_to_retrain(
        churn_home: Path, tmp_path: Path):
    ws = copy_home(churn_home, tmp_path)
    labelled(ws)
    with pytest.raises(ModelCannotUpdate, match=r"\(linear\).*policy check churn --now"):
        update_model(ws, "churn")


def test_an_update_scores_the_rows_before_and_after_learning_them(online_home: Path,
                                                                  tmp_path: Path):
    ws = copy_home(online_home, tmp_path)
    labelled(ws)
    outcome = update_model(ws, "churn")
    assert outcome.before is not None and outcome.after is not None
    assert outcome.after > outcome.before


def test_a_policy_that_learns_by_update_updates_when_its_trigger_fires(online_home: Path,
                                                                       tmp_path: Path):
    ws = copy_home(online_home, tmp_path)
    labelled(ws, n_rows=12)
    set_policy(ws, "churn", RetrainPolicy(new_labels=5, learn="update"), updated_by="ann")
    event = check_model(ws, "churn").event
    assert event is not None
    assert ((event["outcome"], event["model_version"]),
            ws.registry.show("churn@challenger")["lineage"]["parent"]) == (
        ("succeeded", 2), {"name": "churn", "version": 1})


def test_a_policy_that_learns_by_update_queues_an_update_job_on_the_server(
        online_home: Path, tmp_path: Path):
    ws = copy_home(online_home, tmp_path)
    labelled(ws, n_rows=12)
    set_policy(ws, "churn", RetrainPolicy(new_labels=5, learn="update"), updated_by="ann")
    event = check_model(ws, "churn", queue=True).event
    assert event is not None and event["job_id"] is not None
    job = job_store.get_job(ws, event["job_id"])
    assert (job["kind"], job["config"]["update"]["model"]) == ("update", "churn:1")
