"""The one run lifecycle every job shares: a run in the store from its start to its end.

    with run_lifecycle(workspace, kind="train", config=config, dataset_id=dataset_id,
                       observers=observers, resume_command="trainforge train") as run:
        ...  # fit, log metric series under run.id, checkpoint under run.checkpoints, register
        run.succeeded(version, metrics=evaluation.metrics)

- start: a new run in the store, or (``resume_run``) the interrupted one marked running again;
  observers hear ``on_run_start(run_id)`` at once, so a server job can resume it on retry;
- interrupt (Ctrl-C, a worker's cancel): the run is recorded failed with how to resume it, its
  checkpoints stay, and ``TrainingInterrupted`` names the command (for a job that resumes);
- fail: the run is recorded failed with the error, its checkpoints stay for ``--resume``; the
  registry publishes all or nothing, so no half-written package is left behind;
- finish: the checkpoints go (the registered package holds what was learned) and the run is
  recorded succeeded with its metrics, its resources and the model it registered.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from trainforge.errors import TrainingInterrupted
from trainforge.jobs.observers import notify
from trainforge.json_value import JSONValue
from trainforge.store.runs import finish_run, peak_memory_mb, restart_run, start_run

if TYPE_CHECKING:
    from trainforge.registry.records import ModelVersion
    from trainforge.workspace import Workspace


def checkpoint_root(workspace: Workspace, run_id: str) -> Path:
    """Where a run keeps its checkpoints until it succeeds."""
    return workspace.home / "checkpoints" / run_id


@dataclass
class Run:
    """The run a job is doing: its id, where it checkpoints, and what it finishes with."""

    id: str
    checkpoints: Path
    resumed: bool  # the run continues an interrupted one (same id)
    model: ModelVersion | None = None
    metrics: dict[str, JSONValue] = field(default_factory=dict)

    def succeeded(self, model: ModelVersion, *, metrics: Mapping[str, JSONValue]) -> None:
        """Record what the run ends with: the model it registered and its final metrics."""
        self.model, self.metrics = model, dict(metrics)


@contextmanager
def run_lifecycle(workspace: Workspace, *, kind: str, config: BaseModel,
                  dataset_id: int | None, observers: Sequence[object] = (),
                  resume_run: str | None = None, resume_command: str | None = None,
                  cpu_start: float | None = None) -> Iterator[Run]:
    """Start (or restart) a run, yield it to the job, and record how it ended.

    Args:
        kind: the run's kind in the store ("train", "rl", "cluster", "anomalies").
        config: what decides the run; recorded as JSON, and what ``--resume`` runs again.
        resume_run: continue this run (its id) rather than start a new one.
        resume_command: the command that resumes this kind (``--resume RUN`` is appended);
            None for a job that does not resume: an interrupt then goes up unchanged.
        cpu_start: the ``time.process_time()`` the job began (reading its data counts too).
    """
    cpu_start = time.process_time() if cpu_start is None else cpu_start
    if resume_run is not None:
        restart_run(workspace, resume_run)
        run_id = resume_run
    else:
        run_id = start_run(workspace, kind=kind, config=config.model_dump(mode="json"),
                           dataset_id=dataset_id)
    notify(observers, "on_run_start", run_id)
    run = Run(id=run_id, checkpoints=checkpoint_root(workspace, run_id),
              resumed=resume_run is not None)
    try:
        yield run
    except BaseException as error:
        _record_failure(workspace, run_id, error, resume_command=resume_command,
                        cpu_start=cpu_start)
        if (isinstance(error, KeyboardInterrupt) and resume_command is not None
                and not isinstance(error, TrainingInterrupted)):
            raise TrainingInterrupted(run_id, command=resume_command) from error
        raise
    shutil.rmtree(run.checkpoints, ignore_errors=True)
    finish_run(workspace, run_id, status="succeeded", metrics=run.metrics,
               peak_memory_mb=peak_memory_mb(), cpu_s=time.process_time() - cpu_start,
               model=None if run.model is None else (run.model.name, run.model.version))


def _record_failure(workspace: Workspace, run_id: str, error: BaseException, *,
                    resume_command: str | None, cpu_start: float) -> None:
    if not isinstance(error, KeyboardInterrupt):
        message = str(error) or repr(error)
    elif resume_command is not None:
        message = f"interrupted; resume with `{resume_command} --resume {run_id}`"
    else:
        message = "interrupted"
    finish_run(workspace, run_id, status="failed", metrics={}, error=message,
               peak_memory_mb=peak_memory_mb(), cpu_s=time.process_time() - cpu_start)
