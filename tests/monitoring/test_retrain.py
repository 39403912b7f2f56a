"""Retraining policies: each trigger fires at its threshold and not below it, min_interval and
the cost cap hold a retrain back (and say why), and the data a retrain reads is the rows its
policy names, with lineage to the predictions they came from."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from tests.monitoring._served import FEATURES, copy_home, serve_and_label

from trainforge.config import RetrainPolicy
from trainforge.errors import (
    InvalidField,
    ModelNotFound,
    NoFeedbackToTrainOn,
    OriginalDataGone,
    UnrebuildableColumn,
)
from trainforge.jobs.retrain import check_all, check_model, set_policy, settle
from trainforge.monitoring.retrain import RetrainState, due, feedback_metric, gather_state
from trainforge.monitoring.retrain_data import build_retrain_data
from trainforge.store import jobs as job_store
from trainforge.store import retrain as retrain_store
from trainforge.store.datasets import get_dataset
from trainforge.store.tables import jobs
from trainforge.workspace import Workspace

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
STATE = RetrainState(model_name="churn", version=1, trained_at=NOW - timedelta(days=1),
                     new_labels=0, metric="roc_auc", lower_is_better=False, metric_value=None,
                     n_scored=0, drifted_features=None, last_retrain_at=None, cpu_s_today=0.0,
                     in_flight=False)


def _state(**changes: object) -> RetrainState:
    return dataclasses.replace(STATE, **changes)  # type: ignore[arg-type]


# ---- the policy --------------------------------------------------------------------------------
@pytest.mark.parametrize("field,value", [("every", "7 days"), ("min_interval", "0h"),
                                         ("train_on", "window:soon"), ("train_on", "latest:0"),
                                         ("new_labels", 0), ("drifted_features", 0)])
def test_a_bad_policy_field_is_refused_naming_the_field(field: str, value: object):
    with pytest.raises(ValidationError, match=field):
        RetrainPolicy(**{field: value})


def test_a_policy_for_a_model_that_does_not_exist_is_refused(tmp_path: Path):
    with pytest.raises(ModelNotFound, match="'ghost'"):
        set_policy(Workspace(tmp_path / "home"), "ghost", RetrainPolicy(), updated_by="ann")


def test_a_metric_floor_outside_the_metrics_range_is_refused(churn_home: Path, tmp_path: Path):
    with pytest.raises(InvalidField, match=r"metric_floor: 1.5 is outside the range of roc_auc"):
        set_policy(copy_home(churn_home, tmp_path), "churn", RetrainPolicy(metric_floor=1.5),
                   updated_by="ann")


# ---- the triggers ------------------------------------------------------------------------------
def test_drift_on_enough_features_fires():
    assert due(RetrainPolicy(drifted_features=2), _state(drifted_features=2),
               now=NOW).trigger == "drift"  # type: ignore[union-attr]


def test_drift_on_fewer_features_does_not_fire():
    assert due(RetrainPolicy(drifted_features=2), _state(drifted_features=1), now=NOW) is None


def test_a_metric_below_its_floor_fires():
    fired = due(RetrainPolicy(metric_floor=0.8), _state(metric_value=0.7, n_scored=40), now=NOW)
    assert fired is not None and "roc_auc of version 1 on 40 labelled predictions is 0.7" \
        in fired.reason


def test_a_metric_at_its_floor_does_not_fire():
    assert due(RetrainPolicy(metric_floor=0.8), _state(metric_value=0.8), now=NOW) is None


def test_an_error_metric_fires_above_its_floor():
    state = _state(metric="rmse", lower_is_better=True, metric_value=3.0)
    assert due(RetrainPolicy(metric_floor=2.0), state, now=NOW).trigger == "metric"  # type: ignore[union-attr]


def test_enough_new_labels_fire():
    assert due(RetrainPolicy(new_labels=10), _state(new_labels=10),
               now=NOW).trigger == "labels"  # type: ignore[union-attr]


def test_fewer_new_labels_do_not_fire():
    assert due(RetrainPolicy(new_labels=10), _state(new_labels=9), now=NOW) is None


def test_the_schedule_fires_once_its_period_has_passed():
    assert due(RetrainPolicy(every="1d"), _state(), now=NOW).trigger == "schedule"  # type: ignore[union-attr]


def test_the_schedule_does_not_fire_before_its_period():
    assert due(RetrainPolicy(every="2d"), _state(), now=NOW) is None


def test_a_disabled_policy_never_fires():
    assert due(RetrainPolicy(new_labels=1, enabled=False), _state(new_labels=5), now=NOW) is None


def test_min_interval_holds_back_a_trigger_and_says_why():
    fired = due(RetrainPolicy(new_labels=1, min_interval="2h"),
                _state(new_labels=5, last_retrain_at=NOW - timedelta(hours=1)), now=NOW)
    assert fired is not None and fired.blocked is not None
    assert fired.blocked.startswith("min_interval: the last retrain started at 2026-06-01 11:00")


def test_a_failed_retrain_holds_the_next_try_back_for_ten_minutes_and_says_why():
    fired = due(RetrainPolicy(new_labels=1),
                _state(new_labels=5, failures=1, last_failure_at=NOW - timedelta(minutes=5)),
                now=NOW)
    assert fired is not None and fired.blocked is not None
    assert fired.blocked.startswith("back-off: the last 1 retrain(s) failed, the latest started "
                                    "at 2026-06-01 11:55:00 UTC; the next try waits 10 minutes")


def test_each_failure_in_a_row_doubles_the_wait_up_to_a_day():
    def waits(failures: int, ago: timedelta) -> bool:
        fired = due(RetrainPolicy(new_labels=1), _state(new_labels=5, failures=failures,
                                                        last_failure_at=NOW - ago), now=NOW)
        return fired is not None and fired.blocked is not None

    assert (waits(3, timedelta(minutes=39)), waits(3, timedelta(minutes=41)),
            waits(12, timedelta(hours=23)), waits(12, timedelta(hours=25))) == (
        True, False, True, False)


def test_the_cost_cap_holds_back_a_trigger_and_says_why():
    fired = due(RetrainPolicy(new_labels=1, max_cpu_hours_per_day=0.5),
                _state(new_labels=5, cpu_s_today=1800.0), now=NOW)
    assert fired is not None and fired.blocked == (
        "cost cap: this model's retrains used 0.50 CPU-hours today, the cap is 0.5")


# ---- the facts, from the store and the log -----------------------------------------------------
def test_the_metric_on_feedback_is_the_models_metric_on_its_logged_answers():
    scored = pd.DataFrame({"label": ["yes", "no", "yes", "no"],
                           "out.prediction": ["yes", "no", "no", "no"],
                           "out.proba.no": [0.2, 0.9, 0.6, 0.7],
                           "out.proba.yes": [0.8, 0.1, 0.4, 0.3]})
    manifest = {"task": {"kind": "binary", "metric": "roc_auc", "classes": ["no", "yes"]}}
    assert feedback_metric(scored, manifest) == 1.0


def test_the_state_counts_labels_and_scores_the_deployed_version(churn_home: Path,
                                                                 tmp_path: Path):
    ws = copy_home(churn_home, tmp_path)
    serve_and_label(ws, n_rows=12, right=False)
    state = gather_state(ws, ws.prediction_log, "churn", drifted_features=lambda name: 3)
    assert (state.new_labels, state.n_scored, state.metric_value, state.drifted_features) == (
        12, 12, 0.0, 3)


def test_a_skip_is_recorded_once_with_its_reason(churn_home: Path, tmp_path: Path):
    ws = copy_home(churn_home, tmp_path)
    # a retrain started just now, then labels: the cap counts the CPU of retrains started
    # today (UTC), so the spend is placed now, not hours back (which is yesterday after
    # midnight), and min_interval is short enough not to be the reason
    _spend_cpu(ws, 10.0, at=datetime.now(UTC))
    serve_and_label(ws, n_rows=5)
    set_policy(ws, "churn", RetrainPolicy(new_labels=1, min_interval="1s",
                                          max_cpu_hours_per_day=0.001), updated_by="ann")
    later = datetime.now(UTC) + timedelta(seconds=2)
    first = check_model(ws, "churn", queue=True, now=later)
    again = check_model(ws, "churn", queue=True, now=later)
    assert first.event is not None and first.event["outcome"] == "skipped"
    assert "skipped: cost cap" in first.event["reason"] and again.event is None


def _spend_cpu(ws: Workspace, cpu_s: float, *, at: datetime) -> None:
    """A retrain started ``at`` whose job used ``cpu_s``."""
    job_id = job_store.submit_job(ws, kind="train", config={}, submitted_by="policy:churn")
    with ws.engine.begin() as connection:
        connection.execute(sa.update(jobs).where(jobs.c.id == job_id)
                           .values(cpu_s=cpu_s, status="succeeded"))
    retrain_store.record_event(ws, model_name="churn", trigger="labels", reason="today",
                               outcome="succeeded", job_id=job_id, at=at)


def test_a_due_retrain_on_the_server_queues_one_train_job_and_no_second(churn_home: Path,
                                                                         tmp_path: Path):
    ws = copy_home(churn_home, tmp_path)
    serve_and_label(ws, n_rows=5)
    set_policy(ws, "churn", RetrainPolicy(new_labels=5, min_interval="1s"), updated_by="ann")
    first = check_model(ws, "churn", queue=True)
    second = check_model(ws, "churn", queue=True, now=datetime.now(UTC) + timedelta(minutes=5))
    assert first.event is not None and first.event["outcome"] == "queued"
    job = job_store.get_job(ws, str(first.event["job_id"]))
    assert (job["kind"], job["submitted_by"], job["config"]["train"]["target"]) == (
        "train", "policy:churn", "y")
    assert second.trigger is not None and second.trigger.blocked == (
        "a retrain of this model is already queued or running")


def test_a_failed_retrain_does_not_hold_the_next_one_back(churn_home: Path, tmp_path: Path):
    ws = copy_home(churn_home, tmp_path)
    serve_and_label(ws, n_rows=5)
    set_policy(ws, "churn", RetrainPolicy(new_labels=5, min_interval="2h"), updated_by="ann")
    retrain_store.record_event(ws, model_name="churn", trigger="labels", reason="an hour ago",
                               outcome="failed", at=datetime.now(UTC) - timedelta(hours=1))
    check = check_model(ws, "churn", queue=True)
    assert check.event is not None and check.event["outcome"] == "queued"
    assert [e["outcome"] for e in retrain_store.list_events(ws, "churn")] == ["queued", "failed"]


def test_a_retrain_that_just_failed_is_not_retried_at_the_next_check(churn_home: Path,
                                                                     tmp_path: Path):
    ws = copy_home(churn_home, tmp_path)
    serve_and_label(ws, n_rows=5)
    set_policy(ws, "churn", RetrainPolicy(new_labels=5), updated_by="ann")
    retrain_store.record_event(ws, model_name="churn", trigger="labels", reason="out of memory",
                               outcome="failed", at=datetime.now(UTC) - timedelta(minutes=1))
    check = check_model(ws, "churn", queue=True)
    assert check.event is not None and "skipped: back-off" in check.event["reason"]


def test_a_succeeded_retrain_holds_the_next_one_back_for_min_interval(churn_home: Path,
                                                                     tmp_path: Path):
    ws = copy_home(churn_home, tmp_path)
    serve_and_label(ws, n_rows=5)
    set_policy(ws, "churn", RetrainPolicy(new_labels=5, min_interval="2h"), updated_by="ann")
    retrain_store.record_event(ws, model_name="churn", trigger="labels", reason="an hour ago",
                               outcome="succeeded", at=datetime.now(UTC) - timedelta(hours=1))
    check = check_model(ws, "churn", queue=True)
    assert check.event is not None and "skipped: min_interval" in check.event["reason"]


def test_a_refused_retrain_is_retried_at_each_check_and_recorded_once(churn_home: Path,
                                                                      tmp_path: Path):
    ws = copy_home(churn_home, tmp_path)
    serve_and_label(ws, n_rows=5)
    set_policy(ws, "churn", RetrainPolicy(new_labels=5, train_on="window:1h"), updated_by="ann")
    later = datetime.now(UTC) + timedelta(hours=3)  # no labelled prediction in the last hour
    for check in range(2):  # the second after the first failure's back-off
        with pytest.raises(NoFeedbackToTrainOn):
            check_model(ws, "churn", queue=True, now=later + timedelta(minutes=11 * check))
    [failed] = retrain_store.list_events(ws, "churn")
    assert failed["outcome"] == "failed" and "refused: " in failed["reason"]


def test_two_checkers_racing_queue_one_retrain(churn_home: Path, tmp_path: Path):
    ws = copy_home(churn_home, tmp_path)
    serve_and_label(ws, n_rows=5)
    set_policy(ws, "churn", RetrainPolicy(new_labels=5), updated_by="ann")
    # both checkers have read the model's state (nothing in flight) before either queues
    both_read = threading.Barrier(2, timeout=30)

    def drift_then_wait(deployment: str) -> None:
        both_read.wait()

    def checker() -> None:
        other = Workspace(ws.home)  # its own engine, as another server process has
        try:
            check_all(other, drifted_features=drift_then_wait)
        finally:
            other.close()

    racing = [threading.Thread(target=checker) for _ in range(2)]
    for thread in racing:
        thread.start()
    for thread in racing:
        thread.join(timeout=60)
    assert len(retrain_store.list_events(ws, "churn", outcome="queued")) == 1
    with ws.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(jobs)).scalar_one() == 1


# ---- the data a retrain reads ------------------------------------------------------------------
def _build(ws: Workspace, train_on: str, **policy: object):
    manifest = ws.registry.show("churn:1")
    return build_retrain_data(ws, ws.prediction_log, manifest,
                              RetrainPolicy(train_on=train_on, **policy),  # type: ignore[arg-type]
                              now=datetime.now(UTC) + timedelta(seconds=1), submitted_by="ann")


def test_original_plus_feedback_is_the_training_data_then_the_labelled_rows(
        churn_home: Path, tmp_path: Path):
    ws = copy_home(churn_home, tmp_path)
    serve_and_label(ws, n_rows=10)
    data = _build(ws, "original+feedback")
    table = pd.read_parquet(data.path)
    assert list(table.columns) == [*FEATURES, "y"] and len(table) == 210
    assert (data.n_labels, data.lineage["original"]["n_rows"]) == (10, 200)


def test_the_latest_rows_are_the_newest_labelled_predictions_only(churn_home: Path,
                                                                  tmp_path: Path):
    ws = copy_home(churn_home, tmp_path)
    serve_and_label(ws, n_rows=10)
    data = _build(ws, "latest:4")
    assert len(pd.read_parquet(data.path)) == 4 and data.lineage["original"] is None


def test_a_window_with_no_labelled_predictions_is_refused(churn_home: Path, tmp_path: Path):
    ws = copy_home(churn_home, tmp_path)
    serve_and_label(ws, n_rows=3)
    manifest = ws.registry.show("churn:1")
    with pytest.raises(NoFeedbackToTrainOn, match="no logged prediction has a label in the "
                                                  "last 1h"):
        build_retrain_data(ws, ws.prediction_log, manifest,
                           RetrainPolicy(train_on="window:1h"),
                           now=datetime.now(UTC) + timedelta(hours=3), submitted_by="ann")


def test_the_retrain_dataset_is_recorded_with_its_lineage(churn_home: Path, tmp_path: Path):
    ws = copy_home(churn_home, tmp_path)
    [request_id] = serve_and_label(ws, n_rows=6)
    data = _build(ws, "window:30d")
    lineage = get_dataset(ws, data.dataset_id)["lineage"]  # type: ignore[index]
    assert lineage["deployments"] == ["churn"] and lineage["n_labels"] == 6
    assert lineage["predictions"]["first_request_id"] == request_id
    assert lineage["train_on"] == "window:30d" and lineage["window"]["since"] is not None


def test_an_input_the_log_excludes_is_refused_by_its_name(churn_home: Path, tmp_path: Path):
    ws = copy_home(churn_home, tmp_path)
    serve_and_label(ws, n_rows=3, log_policy={"mode": "all", "exclude": ["colour"]})
    with pytest.raises(UnrebuildableColumn, match="input 'colour' is excluded by deployment "
                                                  "'churn'"):
        _build(ws, "latest:3")


def test_original_data_that_is_gone_is_refused_unless_the_policy_allows_feedback_alone(
        churn_home: Path, tmp_path: Path):
    ws = copy_home(churn_home, tmp_path)
    serve_and_label(ws, n_rows=3)
    source = Path(ws.registry.show("churn:1")["lineage"]["dataset_source"])
    moved = source.rename(source.with_suffix(".bak"))
    try:
        with pytest.raises(OriginalDataGone, match="feedback_only_if_original_gone"):
            _build(ws, "original+feedback")
        data = _build(ws, "original+feedback", feedback_only_if_original_gone=True)
    finally:
        moved.rename(source)
    assert data.n_rows == 3 and data.notes[0].startswith("trained on the feedback alone")


def test_a_finished_retrain_job_makes_its_version_the_challenger(churn_home: Path,
                                                                 tmp_path: Path):
    ws = copy_home(churn_home, tmp_path)
    serve_and_label(ws, n_rows=5)
    event = check_model(ws, "churn", start=True, queue=True).event
    assert event is not None
    with ws.engine.begin() as connection:  # as the worker records a finished train job
        connection.execute(sa.update(jobs).where(jobs.c.id == event["job_id"]).values(
            status="succeeded", result={"model": "churn:1"}))
    settle(ws, "churn")
    assert retrain_store.get_event(ws, event["id"])["outcome"] == "succeeded"
    assert "challenger" in ws.registry.versions("churn")[0].aliases


def test_the_drift_trigger_reads_what_trainforge_monitor_sees(churn_home: Path, tmp_path: Path):
    from tests.monitoring._served import deploy
    from tests.training._tables import table

    from trainforge.data.task import TaskKind
    from trainforge.monitoring.prediction_log import PredictionLog, new_request_id

    ws = copy_home(churn_home, tmp_path)
    deploy(ws)
    frame, _ = table(TaskKind.BINARY, n_rows=300, seed=3)
    frame["x1"] = frame["x1"] + 10.0  # far outside anything the model was trained on
    log = PredictionLog(ws.prediction_log)
    log.record(deployment="churn", model="churn", version=1, request_id=new_request_id(),
               inputs={f: frame[f].tolist() for f in FEATURES},
               outputs={"prediction": frame["y"].tolist()}, n_rows=len(frame), latency_s=0.001)
    log.flush()
    set_policy(ws, "churn", RetrainPolicy(drifted_features=1), updated_by="ann")
    check = check_model(ws, "churn", act=False)
    assert check.trigger is not None and check.trigger.trigger == "drift"
    assert "features drifted in the latest window" in check.trigger.reason


def test_what_trainforge_serve_logged_and_was_labelled_is_retrained_on(churn_home: Path,
                                                                       tmp_path: Path):
    # `trainforge serve` keeps no deployment record: the log alone says what answered
    from tests.training._tables import table

    import trainforge as tf
    from trainforge.data.task import TaskKind
    from trainforge.monitoring.prediction_log import PredictionLog, new_request_id

    ws = copy_home(churn_home, tmp_path)
    frame, _ = table(TaskKind.BINARY, n_rows=20, seed=5)
    request_id = new_request_id()
    log = PredictionLog(ws.prediction_log)
    log.record(deployment="churn", model="churn", version=1, request_id=request_id,
               inputs={f: frame[f].tolist() for f in FEATURES},
               outputs={"prediction": frame["y"].tolist()}, n_rows=len(frame), latency_s=0.001)
    log.flush()
    labels = pd.DataFrame({"request_id": request_id, "row": range(20), "label": frame["y"]})
    assert tf.feedback("churn", labels, workspace=ws).counts["recorded"] == 20
    data = _build(ws, "latest:20")
    assert (data.n_rows, data.n_labels, data.lineage["deployments"]) == (20, 20, ["churn"])
