"""Feedback: each label sent back for a logged prediction gets one clear outcome, and nothing
recorded is lost or overwritten silently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from trainforge.data.task_kind import TaskKind
from trainforge.errors import FeedbackNotSupported, InvalidFeedback, TooManyLabels
from trainforge.monitoring.feedback import (
    FeedbackOutcome,
    LabelSpec,
    labelled_predictions,
    record_feedback,
)
from trainforge.monitoring.prediction_log import PredictionLog, new_request_id
from trainforge.store.deployments import save_deployment
from trainforge.store.feedback import list_labels
from trainforge.workspace import Workspace

CLASSES = LabelSpec(TaskKind.BINARY, ("no", "yes"))


@pytest.fixture
def ws(new_workspace, tmp_path: Path) -> Workspace:
    return new_workspace(tmp_path / "home")  # tests/conftest.py: a copy of a migrated store


def _predict(ws: Workspace, *, n_rows: int = 1, version: int = 1) -> str:
    request_id = new_request_id()
    log = PredictionLog(ws.prediction_log)
    log.record(deployment="churn", model="churn", version=version, request_id=request_id,
               inputs={"customer": [f"c{i}" for i in range(n_rows)]},
               outputs={"prediction": ["yes"] * n_rows}, n_rows=n_rows, latency_s=0.001)
    log.flush()
    return request_id


def _send(ws: Workspace, labels: list[Any], *, spec: LabelSpec = CLASSES, deployed: int = 1,
          replace: bool = False, log_policy: dict[str, Any] | None = None) -> FeedbackOutcome:
    deployment = save_deployment(ws, name="churn", model_name="churn", model_version=deployed,
                                 requested="churn", deployed_by="ann", log_policy=log_policy)
    return record_feedback(ws, ws.prediction_log, deployment=deployment, labels=labels,
                           spec=spec, submitted_by="ann", replace=replace)


def test_a_label_for_a_logged_prediction_is_recorded_with_the_version_that_answered(
        ws: Workspace):
    request_id = _predict(ws, n_rows=2)
    outcome = _send(ws, [{"request_id": request_id, "row": 1, "label": "no"}])
    assert outcome.counts["recorded"] == 1 and outcome.records == []
    [label] = list_labels(ws, "churn")
    assert (label["request_id"], label["row"], label["label"]) == (request_id, 1, "no")
    assert (label["model_name"], label["model_version"], label["submitted_by"]) == (
        "churn", 1, "ann")


def test_the_same_label_sent_again_is_unchanged_and_written_once(ws: Workspace):
    request_id = _predict(ws)
    _send(ws, [{"request_id": request_id, "label": "yes"}])
    outcome = _send(ws, [{"request_id": request_id, "label": "yes"}])
    assert outcome.to_dict()["records"] == [{"position": 0, "outcome": "unchanged",
                                             "late": False}]
    assert len(list_labels(ws, "churn", with_replaced=True)) == 1


def test_a_different_label_is_a_conflict_and_the_first_label_stays(ws: Workspace):
    request_id = _predict(ws)
    _send(ws, [{"request_id": request_id, "label": "yes"}])
    outcome = _send(ws, [{"request_id": request_id, "label": "no"}])
    assert outcome.counts["conflict"] == 1
    assert [r["label"] for r in list_labels(ws, "churn", with_replaced=True)] == ["yes"]


def test_replace_writes_the_new_label_and_keeps_the_old_one_marked_replaced(ws: Workspace):
    request_id = _predict(ws)
    _send(ws, [{"request_id": request_id, "label": "yes"}])
    outcome = _send(ws, [{"request_id": request_id, "label": "no"}], replace=True)
    assert outcome.counts["replaced"] == 1
    history = list_labels(ws, "churn", with_replaced=True)
    assert [(r["label"], r["replaced_at"] is None) for r in history] == [("yes", False),
                                                                        ("no", True)]
    assert [r["label"] for r in list_labels(ws, "churn")] == ["no"]


def test_an_unknown_request_id_is_unknown_request_and_the_answer_repeats_no_value(
        ws: Workspace):
    _predict(ws)
    outcome = _send(ws, [{"request_id": "secret-looking-id", "label": "maybe-private"}])
    assert outcome.counts["unknown_request"] == 1
    assert "secret-looking-id" not in str(outcome.to_dict())
    assert "maybe-private" not in str(outcome.to_dict())
    assert "retention" in outcome.hints[0]


def test_an_unknown_request_of_a_deployment_that_logs_nothing_says_it_logs_nothing(
        ws: Workspace):
    outcome = _send(ws, [{"request_id": new_request_id(), "label": "yes"}],
                    log_policy={"mode": "none"})
    assert "logs no predictions" in outcome.hints[0]


def test_a_label_that_is_not_one_of_the_classes_is_wrong_type(ws: Workspace):
    request_id = _predict(ws)
    outcome = _send(ws, [{"request_id": request_id, "label": "perhaps"}])
    assert outcome.counts["wrong_type"] == 1 and list_labels(ws, "churn") == []


def test_a_classifier_label_matches_its_class_as_text_whether_sent_as_number_or_text(
        ws: Workspace):
    first, second = _predict(ws), _predict(ws)
    digits = LabelSpec(TaskKind.BINARY, ("0", "1"))
    outcome = _send(ws, [{"request_id": first, "label": 1},
                         {"request_id": second, "label": "1"},
                         {"request_id": second, "label": 1.0}], spec=digits)
    assert outcome.counts == {**outcome.counts, "recorded": 2, "unchanged": 1}
    assert [r["label"] for r in list_labels(ws, "churn")] == ["1", "1"]


@pytest.mark.parametrize("label", ["12.5", float("inf"), True])
def test_a_regressor_takes_only_a_finite_number(ws: Workspace, label: Any):
    request_id = _predict(ws)
    outcome = _send(ws, [{"request_id": request_id, "label": label}],
                    spec=LabelSpec(TaskKind.REGRESSION))
    assert outcome.counts["wrong_type"] == 1


def test_a_label_for_a_version_no_longer_deployed_is_recorded_and_flagged_late(
        ws: Workspace):
    request_id = _predict(ws, version=1)
    outcome = _send(ws, [{"request_id": request_id, "label": "no"}], deployed=2)
    assert outcome.counts["recorded"] == 1 and outcome.late == 1
    assert outcome.to_dict()["records"] == [{"position": 0, "outcome": "recorded",
                                             "late": True}]
    assert list_labels(ws, "churn")[0]["model_version"] == 1


def test_a_batch_with_one_malformed_record_writes_nothing(ws: Workspace):
    request_id = _predict(ws, n_rows=2)
    with pytest.raises(InvalidFeedback, match=r"record 1: row must be a whole number"):
        _send(ws, [{"request_id": request_id, "label": "yes"},
                   {"request_id": request_id, "row": -1, "label": "no"}])
    assert list_labels(ws, "churn") == []


def test_more_than_ten_thousand_labels_are_refused_with_the_advice_to_split(ws: Workspace):
    labels = [{"request_id": "r", "label": "yes"}] * 10_001
    with pytest.raises(TooManyLabels, match=r"at most 10,000.*Split") as refused:
        _send(ws, labels)
    assert refused.value.http_status == 413


def test_a_clustering_deployment_takes_no_feedback(ws: Workspace):
    with pytest.raises(FeedbackNotSupported, match="classifiers and regressors"):
        _send(ws, [{"request_id": _predict(ws), "label": "yes"}],
              spec=LabelSpec(TaskKind.CLUSTERING))


def test_labelled_predictions_are_the_logged_rows_with_their_current_label(ws: Workspace):
    labelled, unlabelled = _predict(ws), _predict(ws)
    _send(ws, [{"request_id": labelled, "label": "yes"}])
    _send(ws, [{"request_id": labelled, "label": "no"}], replace=True)
    frame = labelled_predictions(ws, ws.prediction_log, "churn")
    assert list(frame["request_id"]) == [labelled] and unlabelled not in set(frame["request_id"])
    assert list(frame["label"]) == ["no"] and list(frame["in.customer"]) == ["c0"]
