"""How one job runs, inside a worker process: the same functions the CLI and SDK call.

- train: ``run_training`` — or ``resume_training`` when an earlier attempt of the job left a
  run (its worker died): the retry continues that run, same id, from its checkpoints;
- predict: ``predict_file`` into ``<artifacts>/jobs/<id>/predictions.csv``;
- evaluate: ``trainforge.evaluate``.

``run_job`` returns the job's result (JSON values); an exception is the job's failure, and a
KeyboardInterrupt (cancel, shutdown) goes up to the worker, which decides what it means.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from trainforge.store import jobs as job_store
from trainforge.store.jobs import JobRecord
from trainforge.workspace import Workspace

OUTPUT_NAME = "predictions.csv"


def dataset_file(workspace: Workspace, job: JobRecord) -> Path:
    """The uploaded file a job reads: its config names the upload, never a server path."""
    from trainforge.store.uploads import get_upload

    path: Path = get_upload(workspace, job["config"]["dataset"])["file"]
    return path


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

    def on_phase(self, text: str) -> None:
        self.write(text)


def run_job(workspace: Workspace, job: JobRecord) -> dict[str, Any]:
    """Run ``job`` (a row of the queue) to its end; returns its result."""
    runner = {"train": _train, "predict": _predict, "evaluate": _evaluate}.get(job["kind"])
    if runner is None:
        raise ValueError(f"no runner for jobs of kind {job['kind']!r}")
    return runner(workspace, job)


def _train(workspace: Workspace, job: JobRecord) -> dict[str, Any]:
    from trainforge._train import resume_training, run_training
    from trainforge.config import TrainConfig
    from trainforge.store.runs import get_run

    log = JobLog(workspace, job["id"])
    if job["run_id"] is not None:
        run = get_run(workspace, job["run_id"])
        if run["status"] == "succeeded":  # the worker died between the run's end and the job's
            log.write(f"run {run['id']} had finished; recording its model")
            return {"run_id": run["id"], "model": f"{run['model_name']}:{run['model_version']}",
                    "metrics": run["metrics"]}
        log.write(f"attempt {job['attempts']}: resuming run {run['id']} from its checkpoints")
        outcome = resume_training(run["id"], workspace=workspace, observers=[log])
    else:
        settings = {**job["config"]["train"], "data": str(dataset_file(workspace, job))}
        outcome = run_training(TrainConfig(**settings), workspace=workspace, observers=[log])
    version = outcome.version
    metrics = dict(outcome.evaluation.metrics)
    shown = ", ".join(f"{k} {v:.4f}" for k, v in list(metrics.items())[:4]
                      if isinstance(v, float))
    log.write(f"registered {version.name}:{version.version} in {outcome.elapsed_s:.1f} s; "
              f"test {shown}")
    return {"run_id": outcome.run_id, "model": f"{version.name}:{version.version}",
            "metric": outcome.task.metric, "metrics": metrics,
            "report": f"/api/v1/models/{version.name}/versions/{version.version}/report"}


def _predict(workspace: Workspace, job: JobRecord) -> dict[str, Any]:
    from trainforge.serving.batch import predict_file

    config = job["config"]
    loaded = workspace.registry.load(config["model"])
    output = output_path(workspace, job["id"])
    job_store.append_log(workspace, job["id"], f"predicting with {loaded.ref}")
    done = predict_file(loaded, dataset_file(workspace, job), output)
    job_store.append_log(workspace, job["id"],
                         f"wrote {done.n_rows:,} predictions in {done.seconds:.2f} s")
    return {"model": loaded.ref, "rows": done.n_rows, "output": OUTPUT_NAME,
            "skipped": list(done.skipped)}


def _evaluate(workspace: Workspace, job: JobRecord) -> dict[str, Any]:
    import trainforge

    config = job["config"]
    job_store.append_log(workspace, job["id"], f"evaluating {config['model']}")
    evaluation = trainforge.evaluate(config["model"], dataset_file(workspace, job),
                                     workspace=workspace)
    shown = ", ".join(f"{k} {v:.4f}" for k, v in list(evaluation.metrics.items())[:4])
    job_store.append_log(workspace, job["id"], f"{evaluation.n_rows:,} rows: {shown}")
    return {"model": config["model"], "evaluation": evaluation.to_dict(),
            "metrics": dict(evaluation.metrics)}
