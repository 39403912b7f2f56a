"""Retraining by policy: check a model's policy, and when a trigger fires (or a person asks)
build its data and start an ordinary training job whose new version gets the alias
``challenger`` (it is not deployed: comparing it with the champion comes next).

On the platform server the retrain is a queued ``train`` job submitted by ``policy:NAME``;
from the CLI without a server it runs here, in this process. Every decision is a
``retrain_events`` row: queued (then succeeded or failed), or skipped and why.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from trainforge.config import RetrainPolicy, TrainConfig
from trainforge.errors import NoRetrainPolicy, RetrainRefused, TrainforgeError
from trainforge.monitoring.retrain import (
    DriftCount,
    RetrainState,
    Trigger,
    check_policy,
    drift_monitor,
    due,
    gather_state,
)
from trainforge.monitoring.retrain_data import RetrainData, build_retrain_data
from trainforge.store import jobs as job_store
from trainforge.store import retrain as retrain_store
from trainforge.workspace import Workspace

log = logging.getLogger(__name__)

CHALLENGER = "challenger"
IN_FLIGHT = "a retrain of this model is already queued or running"


@dataclass(frozen=True)
class RetrainCheck:
    """What a check found and did: the facts, the trigger (None: nothing due), and the event
    it recorded (None when nothing was due or the same skip was recorded last)."""

    state: RetrainState
    trigger: Trigger | None
    event: retrain_store.RetrainEvent | None = None


def stored_policy(workspace: Workspace, model_name: str) -> RetrainPolicy | None:
    record = retrain_store.get_policy(workspace, model_name)
    return None if record is None else RetrainPolicy(**record["policy"])


def set_policy(workspace: Workspace, model_name: str, policy: RetrainPolicy, *,
               updated_by: str | None) -> retrain_store.PolicyRecord:
    """Store ``policy`` for ``model_name`` once it fits the model (ModelNotFound: no such
    model; InvalidField: a floor outside its metric's range)."""
    versions = workspace.registry.versions(model_name)
    check_policy(policy, workspace.registry.show(f"{model_name}:{versions[-1].version}"))
    return retrain_store.save_policy(workspace, model_name,
                                     policy.model_dump(mode="json", by_alias=True),
                                     updated_by=updated_by)


def check_model(workspace: Workspace, model_name: str, *, act: bool = True,
                start: bool = False, queue: bool = False, asked_by: str | None = None,
                drifted_features: DriftCount | None = None,
                now: datetime | None = None) -> RetrainCheck:
    """Judge ``model_name``'s policy now; retrain when a trigger fires and nothing blocks it,
    or (``start``) when a person asks, whatever the triggers and ``min_interval`` say.
    ``act=False``: only say what would happen (nothing is recorded or started);
    ``queue``: submit a train job (the server) instead of training here.
    ``drifted_features``: the drift trigger's input (by default, `trainforge monitor`'s
    judgement of each deployment's latest window)."""
    now = now or datetime.now(UTC)
    if drifted_features is None:
        drifted_features = drift_monitor(workspace, workspace.registry, workspace.prediction_log)
    settle(workspace, model_name)
    policy = stored_policy(workspace, model_name)
    if policy is None:
        if not start:
            raise NoRetrainPolicy(model_name)
        policy = RetrainPolicy()
    state = gather_state(workspace, workspace.prediction_log, model_name,
                         drifted_features=drifted_features, now=now)
    trigger = due(policy, state, now=now)
    if start:
        fired = f"; the policy would also retrain: {trigger.reason}" if trigger else ""
        trigger = Trigger("manual", f"asked by {asked_by or 'a user'}{fired}",
                          IN_FLIGHT if state.in_flight else None)
    if trigger is None or not act:
        return RetrainCheck(state, trigger)
    if trigger.blocked is not None:
        return RetrainCheck(state, trigger, _skipped(workspace, model_name, trigger, now=now))
    # claimed before anything is built: of two checkers (two server processes) one starts it
    reason = f"{trigger.reason}; update" if policy.learn == "update" else trigger.reason
    event_id = retrain_store.claim_retrain(workspace, model_name=model_name,
                                           trigger=trigger.trigger, reason=reason, at=now)
    if event_id is None:  # another checker claimed it since the state was read
        return RetrainCheck(state, replace(trigger, blocked=IN_FLIGHT))
    try:
        started = _start(workspace, model_name, policy, trigger, event_id=event_id,
                         state=state, queue=queue, now=now)
    except BaseException as error:  # Ctrl-C too: a claim left queued would block every retrain
        retrain_store.fail_if_queued(workspace, event_id, reason=f"{reason}; failed: {error}")
        raise
    return RetrainCheck(state, trigger, started)


def _skipped(workspace: Workspace, model_name: str, trigger: Trigger, *,
             now: datetime) -> retrain_store.RetrainEvent | None:
    """Record a skip, unless the model's latest event is this same skip (the server checks
    every minute: one row per reason, not one per check)."""
    reason = f"{trigger.reason}; skipped: {trigger.blocked}"
    latest = retrain_store.list_events(workspace, model_name, limit=1)
    if latest and latest[0]["outcome"] == "skipped" and latest[0]["reason"] == reason:
        return None
    event_id = retrain_store.record_event(workspace, model_name=model_name,
                                          trigger=trigger.trigger, reason=reason,
                                          outcome="skipped", at=now)
    return _event(workspace, event_id)


def _start(workspace: Workspace, model_name: str, policy: RetrainPolicy, trigger: Trigger, *,
           event_id: int, state: RetrainState, queue: bool,
           now: datetime) -> retrain_store.RetrainEvent:
    """Start the retrain claimed as event ``event_id``: queue its job (``queue``) or run it
    here."""
    submitted_by = f"policy:{model_name}"
    if policy.learn in ("update", "windows"):
        return _update(workspace, model_name, event_id=event_id, state=state, queue=queue,
                       method="windows" if policy.learn == "windows" else "continue")
    manifest = workspace.registry.show(f"{model_name}:{state.version}")
    try:
        data = build_retrain_data(workspace, workspace.prediction_log, manifest, policy,
                                  now=now, submitted_by=submitted_by)
    except RetrainRefused as refused:  # failed: retried at the next check, recorded once
        _refused(workspace, model_name, event_id, reason=f"{trigger.reason}; refused: {refused}")
        raise
    config = _train_config(policy, manifest, data)
    if not queue:
        retrain_store.attach_job(workspace, event_id, job_id=None, dataset_id=data.dataset_id)
        return _train_here(workspace, model_name, config, event_id=event_id)
    job_id = job_store.submit_job(workspace, kind="train", config={
        "dataset": data.upload_id, "dataset_name": data.path.name,
        "train": config.model_dump(mode="json", exclude={"data"})},
        submitted_by=submitted_by)
    retrain_store.attach_job(workspace, event_id, job_id=job_id, dataset_id=data.dataset_id)
    return _event(workspace, event_id)


def _refused(workspace: Workspace, model_name: str, event_id: int, *, reason: str) -> None:
    """Record a retrain whose data could not be built as failed, unless the model's latest
    decision before it is this same failure (the server checks every minute)."""
    latest = [event for event in retrain_store.list_events(workspace, model_name, limit=2)
              if event["id"] != event_id]
    if latest and latest[0]["outcome"] == "failed" and latest[0]["reason"] == reason:
        retrain_store.drop_event(workspace, event_id)
    else:
        retrain_store.finish_event(workspace, event_id, outcome="failed", reason=reason)


def _update(workspace: Workspace, model_name: str, *, event_id: int, state: RetrainState,
            queue: bool, method: str) -> retrain_store.RetrainEvent:
    """``learn: update`` or ``windows``: update the deployed version on its new labels
    (jobs.update, ``method`` continue or windows) rather than retrain; queued as an
    ``update`` job on the server, else run here."""
    from trainforge.config import UpdateConfig
    from trainforge.jobs.update import run_update

    config = UpdateConfig(model=f"{model_name}:{state.version}",
                          method=method)  # type: ignore[arg-type]
    if queue:
        job_id = job_store.submit_job(workspace, kind="update",
                                      config={"update": config.model_dump(mode="json")},
                                      submitted_by=f"policy:{model_name}")
        retrain_store.attach_job(workspace, event_id, job_id=job_id, dataset_id=None)
        return _event(workspace, event_id)
    try:
        outcome = run_update(config, workspace=workspace)
    except BaseException as error:  # as _train_here: the event must not stay queued
        retrain_store.finish_event(workspace, event_id, outcome="failed",
                                   reason=f"update failed: {error}")
        raise
    retrain_store.finish_event(workspace, event_id, outcome="succeeded",
                               run_id=outcome.run_id, model_version=outcome.version.version)
    return _event(workspace, event_id)


def _train_config(policy: RetrainPolicy, manifest: Mapping[str, Any],
                  data: RetrainData) -> TrainConfig:
    """The model's own target, name and metric, the policy's budget, trials and seed."""
    return TrainConfig(data=str(data.path), target=data.target, name=str(manifest["name"]),
                       metric=str(manifest["task"]["metric"]), time_budget=policy.time_budget_s,
                       trials=policy.trials, seed=policy.seed)


def _train_here(workspace: Workspace, model_name: str, config: TrainConfig, *,
                event_id: int) -> retrain_store.RetrainEvent:
    from trainforge.jobs.train import run_training

    try:
        outcome = run_training(config, workspace=workspace)
    except BaseException as error:  # Ctrl-C too: the event must not stay queued for ever
        retrain_store.finish_event(workspace, event_id, outcome="failed",
                                   reason=f"training failed: {error}")
        raise
    version = outcome.version.version
    workspace.registry.alias(model_name, version, CHALLENGER)
    retrain_store.finish_event(workspace, event_id, outcome="succeeded",
                               run_id=outcome.run_id, model_version=version)
    return _event(workspace, event_id)


def settle(workspace: Workspace, model_name: str) -> None:
    """Record how the model's queued retrain jobs ended, and give a finished one's version
    the alias ``challenger``."""
    for event in retrain_store.list_events(workspace, model_name, limit=100, outcome="queued"):
        if event["job_id"] is None:
            continue  # trained in a process that still runs it (or died: see below)
        job = job_store.get_job(workspace, event["job_id"])
        if job["status"] == "succeeded":
            ref = str((job["result"] or {}).get("model", ""))
            version = int(ref.rpartition(":")[2]) if ref.rpartition(":")[2].isdigit() else None
            if version is not None:
                workspace.registry.alias(model_name, version, CHALLENGER)
            retrain_store.finish_event(workspace, event["id"], outcome="succeeded",
                                       run_id=job["run_id"], model_version=version)
        elif job["status"] in ("failed", "cancelled"):
            retrain_store.finish_event(workspace, event["id"], outcome="failed",
                                       run_id=job["run_id"],
                                       reason=f"{event['reason']}; job {job['status']}: "
                                              f"{job['error'] or 'no error recorded'}")


def check_all(workspace: Workspace, *, drifted_features: DriftCount | None = None,
              now: datetime | None = None) -> list[RetrainCheck]:
    """Check every enabled policy once, queueing the retrains that are due (the server's
    background check). A model whose check fails is logged and the others still checked."""
    for model_name in retrain_store.models_with_queued(workspace):  # with a policy or not
        settle(workspace, model_name)
    checks = []
    for record in retrain_store.list_policies(workspace):
        if not record["policy"].get("enabled", True):
            continue
        try:
            checks.append(check_model(workspace, record["model_name"], queue=True,
                                      drifted_features=drifted_features, now=now))
        except TrainforgeError as error:  # recorded as an event where it was a decision
            log.warning("retraining policy of %s: %s", record["model_name"], error)
        except Exception:
            log.exception("checking the retraining policy of %s failed", record["model_name"])
    return checks


def _event(workspace: Workspace, event_id: int) -> retrain_store.RetrainEvent:
    return retrain_store.get_event(workspace, event_id)
