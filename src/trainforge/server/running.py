"""How one job runs, inside a worker process: the same functions the CLI and SDK call.

- train: ``run_training`` — or ``resume_training`` when an earlier attempt of the job left a
  run (its worker died): the retry continues that run, same id, from its checkpoints;
- predict: ``run_prediction`` into ``<artifacts>/jobs/<id>/predictions.csv``; with
  ``"backend": "ray"``, into shards and a manifest at ``sharded_output``;
- evaluate: ``run_evaluation``;
- cluster, anomalies: ``run_clustering``, ``run_anomalies``;
- rl_train: ``run_rl_training`` on a run the job records first, so that a retry after its
  worker died continues that run from its last checkpoint;
- rl_eval: ``replay``;
- update: ``run_update`` (a retry after its run succeeded records that run's version);
- federation: ``run_coordinator``, the coordinator of a federation the server coordinates
  (``POST /api/v1/federations`` queues it); a retry starts its waiting again.

A job that reads an upload links it to the dataset version its run recorded (the lineage
``GET /api/v1/datasets/{id}`` shows), when the upload was not linked already.

``run_job`` returns the job's result (JSON values); an exception is the job's failure, and a
KeyboardInterrupt (cancel, shutdown) goes up to the worker, which decides what it means.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainforge.store import jobs as job_store
from trainforge.store.jobs import JobRecord
from trainforge.workspace import Workspace

OUTPUT_NAME = "predictions.csv"
SHARDED_OUTPUT_NAME = "predictions"  # a folder (or S3 prefix) of shards and a manifest


def dataset_file(workspace: Workspace, job: JobRecord) -> Path:
    """The uploaded file a job reads: its config names the upload, never a server path."""
    from trainforge.store.uploads import get_upload, upload_file

    # on another machine than the server's (Ray), the file comes from the artifact store
    return upload_file(workspace, get_upload(workspace, job["config"]["dataset"]))


def output_path(workspace: Workspace, job_id: str) -> Path:
    """Where a predict job writes its predictions (``GET /api/v1/jobs/{id}/output``)."""
    return workspace.artifacts / "jobs" / job_id / OUTPUT_NAME


class JobLog:
    """A training observer that writes what the CLI would show as lines of the job's log,
    and records the run id on the job the moment the run starts."""

    def __init__(self, workspace: Workspace, job_id: str) -> None:
        self.workspace, self.job_id = workspace, job_id
        self.trials = 0

    def write(self, text: str) -> None:
        job_store.append_log(self.workspace, self.job_id, text)

    def on_run_start(self, run_id: str) -> None:
        job_store.set_run(self.workspace, self.job_id, run_id)
        self.write(f"run {run_id} started")

    def on_task(self, task: Any, notes: list[str], profile: Any, features: list[str]) -> None:
        self.write(f"task: {task.describe()}")
        shown = ", ".join(features[:8]) + (", …" if len(features) > 8 else "")
        self.write(f"features: {len(features)} columns ({shown})")
        for note in notes:
            self.write(f"note: {note}")

    def on_fit_start(self, info: Any) -> None:
        self.write(f"searching {', '.join(info.algorithms) or 'the catalog'} on "
                   f"{info.n_rows:,} rows ({info.validation})")

    def on_trial_end(self, event: Any) -> None:
        self.trials += 1
        score = "" if event.score is None or math.isnan(event.score) else \
            f" score {event.score:.4f}"
        best = "" if event.best_score is None or math.isnan(event.best_score) else \
            f" (best {event.best_score:.4f})"
        self.write(f"trial {event.number}: {event.algorithm} {event.status}{score}{best} "
                   f"in {event.fit_time_s:.1f} s")

    def on_epoch_end(self, event: Any) -> None:
        validation = "" if event.val_loss is None else f", val loss {event.val_loss:.4f}"
        self.write(f"{event.algorithm} epoch {event.epoch}/{event.max_epochs}: train loss "
                   f"{event.train_loss:.4f}{validation}")

    def on_rule(self, finding: Any) -> None:
        self.write(f"rule: {finding}")

    def on_phase(self, text: str) -> None:
        self.write(text)

    def on_round(self, record: dict[str, Any]) -> None:
        from trainforge.jobs.rounds import round_line

        self.write(round_line(record))


def run_job(workspace: Workspace, job: JobRecord) -> dict[str, Any]:
    """Run ``job`` (a row of the queue) to its end; returns its result."""
    runners: dict[str, Callable[[Workspace, JobRecord], dict[str, Any]]] = {
        "train": _train, "predict": _predict, "evaluate": _evaluate,
              "cluster": _cluster, "anomalies": _anomalies, "rl_train": _rl_train,
              "rl_eval": _rl_eval, "update": _update,
              "federated_simulate": _federated_simulate, "federation": _federation}
    runner = runners.get(job["kind"])
    if runner is None:
        raise ValueError(f"no runner for jobs of kind {job['kind']!r}")
    return runner(workspace, job)


def _train(workspace: Workspace, job: JobRecord) -> dict[str, Any]:
    from trainforge.config import TrainConfig
    from trainforge.jobs.train import resume_training, run_training

    log = JobLog(workspace, job["id"])
    if job["run_id"] is not None:
        finished = _finished_run(workspace, job, log)
        if finished is not None:
            return finished
        log.write(f"attempt {job['attempts']}: resuming run {job['run_id']} from its "
                  "checkpoints")
        outcome = resume_training(job["run_id"], workspace=workspace, observers=[log])
    else:
        settings = {**job["config"]["train"], "data": str(dataset_file(workspace, job))}
        outcome = run_training(TrainConfig(**settings), workspace=workspace, observers=[log])
    link_upload(workspace, job, outcome.run_id)
    version = outcome.version
    metrics = dict(outcome.evaluation.metrics)
    shown = ", ".join(f"{k} {v:.4f}" for k, v in list(metrics.items())[:4]
                      if isinstance(v, float))
    log.write(f"registered {version.name}:{version.version} in {outcome.elapsed_s:.1f} s; "
              f"test {shown}")
    return {"run_id": outcome.run_id, "model": f"{version.name}:{version.version}",
            "metric": outcome.task.metric, "metrics": metrics,
            "report": _report(version)}


def _report(version: Any) -> str:
    return f"/api/v1/models/{version.name}/versions/{version.version}/report"


def link_upload(workspace: Workspace, job: JobRecord, run_id: str) -> None:
    """Record which dataset version the job's upload is (the one its run read), unless the
    upload was linked when it was received."""
    from trainforge.store.runs import get_run
    from trainforge.store.uploads import get_upload, set_dataset

    dataset_id = get_run(workspace, run_id)["dataset_id"]
    if dataset_id is not None and get_upload(workspace, job["config"]["dataset"])[
            "dataset_id"] is None:
        set_dataset(workspace, job["config"]["dataset"], dataset_id)


def _finished_run(workspace: Workspace, job: JobRecord, log: JobLog) -> dict[str, Any] | None:
    """The result of the job's run when it had succeeded (its worker died between the run's
    end and the job's); None when the run is still to resume."""
    from trainforge.store.runs import get_run

    assert job["run_id"] is not None
    run = get_run(workspace, job["run_id"])
    if run["status"] != "succeeded":
        return None
    log.write(f"run {run['id']} had finished; recording its model")
    return {"run_id": run["id"], "model": f"{run['model_name']}:{run['model_version']}",
            "metrics": run["metrics"]}


def sharded_output(workspace: Workspace, job_id: str) -> str:
    """Where a predict job on the Ray backend writes its shards and manifest: the artifact
    store's ``jobs/<id>/predictions`` when it is S3 (every node reaches it), else the folder
    of that name under the artifacts."""
    store = workspace.artifact_store
    if store is not None and store.location.startswith("s3://"):
        return f"{store.location}/jobs/{job_id}/{SHARDED_OUTPUT_NAME}"
    return str(workspace.artifacts / "jobs" / job_id / SHARDED_OUTPUT_NAME)


def _clear_sharded_output(workspace: Workspace, job_id: str) -> None:
    """Remove what an earlier attempt of the job (its worker died) left of its shards: the
    output is the job's own, and batch prediction never writes into one that holds files."""
    store = workspace.artifact_store
    if store is not None and store.location.startswith("s3://"):
        store.delete(store.list(f"jobs/{job_id}/{SHARDED_OUTPUT_NAME}/"))
    shutil.rmtree(workspace.artifacts / "jobs" / job_id / SHARDED_OUTPUT_NAME,
                  ignore_errors=True)


def _predict(workspace: Workspace, job: JobRecord) -> dict[str, Any]:
    from trainforge.jobs.predict import run_prediction
    from trainforge.jobs.search_backend import RAY_ADDRESS_VARIABLE

    if job["config"].get("backend") == "ray":
        # on the Ray job backend the job runs in a Ray task, and joins that task's cluster
        output = sharded_output(workspace, job["id"])
        _clear_sharded_output(workspace, job["id"])
        sharded = run_prediction(job["config"]["model"], dataset_file(workspace, job), output,
                                 workspace=workspace, backend="ray",
                                 ray_address=os.environ.get(RAY_ADDRESS_VARIABLE) or None,
                                 observers=[JobLog(workspace, job["id"])])
        shards = sharded.batch
        job_store.append_log(workspace, job["id"], f"wrote {shards.n_rows:,} predictions to "
                                                   f"{output} in {shards.seconds:.2f} s")
        return {"model": sharded.model, "rows": shards.n_rows, "backend": "ray",
                "output": output, "unscored": shards.n_unscored}
    outcome = run_prediction(job["config"]["model"], dataset_file(workspace, job),
                             output_path(workspace, job["id"]), workspace=workspace,
                             explain_top_k=job["config"].get("explain_top_k"),
                             observers=[JobLog(workspace, job["id"])])
    done = outcome.batch
    job_store.append_log(workspace, job["id"],
                         f"wrote {done.n_rows:,} predictions in {done.seconds:.2f} s")
    return {"model": outcome.model, "rows": done.n_rows, "output": OUTPUT_NAME,
            "skipped": list(done.skipped)}


def _evaluate(workspace: Workspace, job: JobRecord) -> dict[str, Any]:
    from trainforge.jobs.evaluate import run_evaluation

    config = job["config"]
    job_store.append_log(workspace, job["id"], f"evaluating {config['model']}")
    evaluation = run_evaluation(config["model"], dataset_file(workspace, job),
                                workspace=workspace)
    shown = ", ".join(f"{k} {v:.4f}" for k, v in list(evaluation.metrics.items())[:4])
    job_store.append_log(workspace, job["id"], f"{evaluation.n_rows:,} rows: {shown}")
    return {"model": config["model"], "evaluation": evaluation.to_dict(),
            "metrics": dict(evaluation.metrics)}


def _cluster(workspace: Workspace, job: JobRecord) -> dict[str, Any]:
    from trainforge.config import ClusterConfig
    from trainforge.jobs.segments import run_clustering

    log = JobLog(workspace, job["id"])
    settings = ClusterConfig(**job["config"]["cluster"], data=str(dataset_file(workspace, job)))
    outcome = run_clustering(settings, workspace=workspace, observers=[log])
    link_upload(workspace, job, outcome.run_id)
    result, version = outcome.result, outcome.version
    for note in outcome.notes:
        log.write(f"note: {note}")
    log.write(f"{result.n_clusters} segments by {result.method}; registered "
              f"{version.name}:{version.version} in {outcome.elapsed_s:.1f} s")
    return {"run_id": outcome.run_id, "model": f"{version.name}:{version.version}",
            "method": result.method, "n_segments": result.n_clusters,
            "features": list(result.features), "metrics": dict(version.metrics),
            "segments": [segment.summary for segment in outcome.described.segments],
            "report": _report(version)}


def _anomalies(workspace: Workspace, job: JobRecord) -> dict[str, Any]:
    from trainforge.config import AnomalyConfig
    from trainforge.jobs.segments import run_anomalies

    log = JobLog(workspace, job["id"])
    settings = AnomalyConfig(**job["config"]["anomalies"],
                             data=str(dataset_file(workspace, job)))
    outcome = run_anomalies(settings, workspace=workspace, observers=[log])
    link_upload(workspace, job, outcome.run_id)
    result, version = outcome.result, outcome.version
    flagged = int(result.is_anomaly.sum())
    log.write(f"{flagged:,} of {len(result.scores):,} rows are anomalies by {result.method}; "
              f"registered {version.name}:{version.version} in {outcome.elapsed_s:.1f} s")
    return {"run_id": outcome.run_id, "model": f"{version.name}:{version.version}",
            "method": result.method, "n_rows": len(result.scores), "n_anomalies": flagged,
            "threshold": float(result.threshold), "metrics": dict(version.metrics),
            "top": [{"row": int(a.position), "score": float(a.score), "why": a.summary}
                    for a in outcome.described.anomalies],
            "report": _report(version)}


class RLJobLog(JobLog):
    """The RL job's log: its phases, and its progress every tenth of the timesteps (a line per
    rollout would be thousands)."""

    def __init__(self, workspace: Workspace, job_id: str) -> None:
        super().__init__(workspace, job_id)
        self.next_share = 0.0

    def on_rollout_end(self, event: Any) -> None:
        if event.timesteps < self.next_share * event.total_timesteps:
            return
        self.next_share = event.timesteps / event.total_timesteps + 0.1
        recent = ("" if event.recent_mean_return is None
                  else f", return {event.recent_mean_return:.1f} (last 20 episodes)")
        self.write(f"timestep {event.timesteps:,} of {event.total_timesteps:,}{recent}")

    def on_fit_end(self, agent: Any) -> None:
        resumed = ("" if agent.resumed_from is None
                   else f", resumed from timestep {agent.resumed_from:,}")
        self.write(f"trained {agent.algorithm} for {agent.timesteps:,} timesteps in "
                   f"{agent.wall_s:.1f} s{resumed}")


def _rl_train(workspace: Workspace, job: JobRecord) -> dict[str, Any]:
    """Train an agent; the run's id reaches the job as the run starts (``on_run_start``), so a
    later attempt after a dead worker continues that run from its last checkpoint."""
    from trainforge.config import RLTrainConfig
    from trainforge.jobs.rl import resume_rl_training, run_rl_training
    from trainforge.server.job_requests import check_env

    log = RLJobLog(workspace, job["id"])
    settings = RLTrainConfig(**job["config"]["rl_train"])
    check_env("env", settings.env)  # as at submit: a worker never imports a module named to it
    if job["run_id"] is None:
        outcome = run_rl_training(settings, workspace=workspace, observers=[log])
    else:
        finished = _finished_run(workspace, job, log)
        if finished is not None:
            return finished
        log.write(f"attempt {job['attempts']}: resuming run {job['run_id']} from its last "
                  "checkpoint")
        outcome = resume_rl_training(job["run_id"], workspace=workspace, observers=[log])
    version, evaluation = outcome.version, outcome.evaluation
    log.write(f"mean return {evaluation.mean:.2f} ± {evaluation.std:.2f} over "
              f"{len(evaluation.returns)} episodes; registered {version.name}:{version.version}")
    return {"run_id": outcome.run_id, "model": f"{version.name}:{version.version}",
            "algorithm": outcome.algorithm, "why": outcome.why, "timesteps": outcome.timesteps,
            "resumed_from": outcome.resumed_from,
            "metrics": {"mean_return": evaluation.mean, "std_return": evaluation.std},
            "report": _report(version)}


def _federated_simulate(workspace: Workspace, job: JobRecord) -> dict[str, Any]:
    """A simulated federation on the uploaded table; a retry starts it again (a federation's
    rounds are not checkpointed yet)."""
    from trainforge.config import FederatedSimulationConfig
    from trainforge.jobs.federate import run_federated_simulation

    log = JobLog(workspace, job["id"])
    settings = {**job["config"]["federated_simulate"], "data": str(dataset_file(workspace, job))}
    outcome = run_federated_simulation(FederatedSimulationConfig(**settings),
                                       workspace=workspace, observers=[log])
    link_upload(workspace, job, outcome.run_id)
    version, metric = outcome.version, outcome.task.metric
    log.write(f"registered {version.name}:{version.version}: {metric} "
              f"{outcome.federated.metrics.get(metric, float('nan')):.4f} federated, "
              f"{outcome.centralised.metrics.get(metric, float('nan')):.4f} centralised")
    return {"run_id": outcome.run_id, "model": f"{version.name}:{version.version}",
            "metric": metric, "metrics": dict(outcome.federated.metrics),
            "centralised": dict(outcome.centralised.metrics), "report": _report(version)}


def _federation(workspace: Workspace, job: JobRecord) -> dict[str, Any]:
    """Coordinate a federation: wait for its holders, run its rounds, register its model. A
    retry after the federation succeeded (its worker died before the job's end was recorded)
    records its model rather than federate again."""
    from trainforge.jobs.coordinate import run_coordinator
    from trainforge.store.federations import get_federation

    log = JobLog(workspace, job["id"])
    name = job["config"]["federation"]
    ended = get_federation(workspace, name)
    if ended["state"] == "succeeded":
        log.write(f"federation {name} had finished; recording its model")
        return {"run_id": ended["run_id"], "federation": name,
                "model": f"{ended['model_name']}:{ended['model_version']}"}
    outcome = run_coordinator(name, workspace=workspace, observers=[log])
    version = outcome.version
    shown = ", ".join(f"{k} {v:.4f}" for k, v in list(outcome.weighted.items())[:4])
    log.write(f"registered {version.name}:{version.version} after {len(outcome.rounds)} rounds; "
              f"on the clients' held-out rows (weighted): {shown}")
    return {"run_id": outcome.run_id, "model": f"{version.name}:{version.version}",
            "federation": outcome.name, "metrics": outcome.weighted,
            "clients": outcome.clients}


def _rl_eval(workspace: Workspace, job: JobRecord) -> dict[str, Any]:
    from trainforge.jobs.rl import registered_policy, replay
    from trainforge.server.job_requests import check_env

    config = job["config"]
    env = config["env"] or registered_policy(config["model"], workspace=workspace).env_spec
    check_env("env", env)  # as at submit: a worker never imports a module named to it
    job_store.append_log(workspace, job["id"], f"replaying {config['model']} on {env} for "
                                               f"{config['episodes']} episodes")
    evaluation = replay(config["model"], env, episodes=config["episodes"], workspace=workspace)
    job_store.append_log(workspace, job["id"], f"mean return {evaluation.mean:.2f} ± "
                                               f"{evaluation.std:.2f}")
    return {"model": config["model"], "env": env,
            "metrics": {"mean_return": evaluation.mean, "std_return": evaluation.std},
            "returns": [float(r) for r in evaluation.returns]}


def _update(workspace: Workspace, job: JobRecord) -> dict[str, Any]:
    from trainforge.config import UpdateConfig
    from trainforge.jobs.update import run_update

    log = JobLog(workspace, job["id"])
    if job["run_id"] is not None:  # an earlier attempt's run: nothing to resume, only to keep
        finished = _finished_run(workspace, job, log)
        if finished is not None:
            return finished
    outcome = run_update(UpdateConfig(**job["config"]["update"]), workspace=workspace,
                         observers=[log])
    ref = f"{outcome.version.name}:{outcome.version.version}"
    kept = f"; kept as they were: {', '.join(outcome.kept)}" if outcome.kept else ""
    log.write(f"registered {ref} (challenger) from {outcome.parent} on {outcome.n_rows:,} "
              f"labelled rows; updated: {', '.join(outcome.updated)}{kept}")
    return {"run_id": outcome.run_id, "model": ref, "parent": outcome.parent,
            "rows": outcome.n_rows, "updated": outcome.updated, "kept": outcome.kept,
            "metric": outcome.metric, "before": outcome.before, "after": outcome.after}
