"""One network fit, data-parallel on N Ray Train workers (DDP: gloo on CPUs, NCCL on GPUs).

Only a fit asked for with ``workers`` > 1 imports this module: the local path never imports
Ray. Each worker runs the same ``Trainer`` (runtime.loop) with its ``Replicas``; the leader
(rank 0) writes the checkpoints to the fit's checkpoint folder and sends its events here, where
the caller's callbacks run as they would for a local fit (one run, one learning curve), and
their decision at each epoch's end goes back to the workers.

The checkpoint folder must be shared storage: a path every worker reads and writes at the same
name, i.e. workers on this machine, or a file system mounted on every node. When a worker is
lost, Ray Train (``FailureConfig``) starts the group again and each worker resumes from the
last checkpoint there; at most one checkpoint interval is lost. When the fit is done, the
weights and the history are read back from the complete checkpoint, so the result is a local
fit's.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
import ray.train
from ray.train import FailureConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer
from ray.util.queue import Empty, Queue
from torch import nn

from trainforge.errors import CheckpointMismatch, ConfigError
from trainforge.runtime import checkpoints as ckpt
from trainforge.runtime.callbacks import Decision
from trainforge.runtime.loop import Augment, FitHistory, LoopConfig, Score, TensorData, Trainer
from trainforge.runtime.replicas import Replicas

MAX_WORKER_FAILURES = 3  # group restarts before the fit fails: a node lost twice is still luck
_POLL_S = 0.2
_REPLY_TIMEOUT_S = 600.0  # the leader's wait for the callbacks' decision: they store an epoch


@dataclass(frozen=True)
class DataParallel:
    """How many workers, and the Ray cluster to find them on (None: ``ray.init``'s default,
    ``RAY_ADDRESS`` or a local Ray started for this process)."""

    workers: int
    ray_address: str | None = None


@dataclass(frozen=True)
class _Job:
    """What every worker needs to build the same Trainer (sent once, through Ray)."""

    module: nn.Module
    config: LoopConfig
    score: Score | None
    greater_is_better: bool
    augment: Augment | None
    architecture: dict[str, Any]
    trainable: list[int] | None  # indices into module.parameters(): identities do not travel
    checkpoint_dir: str
    train: TensorData
    valid: TensorData | None
    seconds_left: float | None
    watches_steps: int | None  # every_steps of the callbacks that watch steps; None: none do


def fit_data_parallel(module: nn.Module, config: LoopConfig, train: TensorData,
                      valid: TensorData | None, *, plan: DataParallel,
                      checkpoint_dir: Path | None, stop_at: float | None = None,
                      score: Score | None = None, greater_is_better: bool = True,
                      augment: Augment | None = None, callbacks: Sequence[object] = (),
                      architecture: dict[str, Any] | None = None,
                      trainable: Sequence[nn.Parameter] | None = None) -> FitHistory:
    """Train ``module`` as ``Trainer(...).fit`` would, on ``plan.workers`` Ray Train workers;
    ``module`` ends with the chosen weights."""
    if plan.workers < 2:
        raise ConfigError(f"workers={plan.workers}: data-parallel training needs at least 2 "
                          "workers; with 1, train locally")
    if not ray.is_initialized():
        ray.init(address=plan.ray_address, log_to_driver=False)
    with tempfile.TemporaryDirectory(prefix="trainforge-ddp-") as scratch:
        folder = checkpoint_dir or Path(scratch) / "checkpoints"
        job = _job(module, config, train, valid, folder=folder, stop_at=stop_at, score=score,
                   greater_is_better=greater_is_better, augment=augment, callbacks=callbacks,
                   architecture=architecture, trainable=trainable)
        _run_on_workers(job, plan=plan, callbacks=callbacks, storage=Path(scratch) / "ray")
        return _read_result(module, folder)


def _read_result(module: nn.Module, folder: Path) -> FitHistory:
    """The weights and history of the leader's complete checkpoint, into ``module``."""
    found = ckpt.load_checkpoint(folder)
    if found is None or not found.meta.get("complete"):
        raise CheckpointMismatch(str(folder), "the workers finished without writing their "
                                 "final checkpoint there; give a checkpoint folder every "
                                 "worker can write (shared storage)")
    module.load_state_dict(ckpt.prefixed(found.tensors, "model/"))
    return FitHistory.from_dict(found.meta["history"])


def _job(module: nn.Module, config: LoopConfig, train: TensorData, valid: TensorData | None,
         *, folder: Path, stop_at: float | None, score: Score | None, greater_is_better: bool,
         augment: Augment | None, callbacks: Sequence[object],
         architecture: dict[str, Any] | None,
         trainable: Sequence[nn.Parameter] | None) -> _Job:
    chosen = None if trainable is None else {id(p) for p in trainable}
    watching = [int(getattr(c, "every_steps", 1)) for c in callbacks if hasattr(c, "on_step_end")]
    return _Job(module=module.cpu(), config=config, score=score,
                greater_is_better=greater_is_better, augment=augment,
                architecture=dict(architecture or {}),
                trainable=None if chosen is None else
                [i for i, p in enumerate(module.parameters()) if id(p) in chosen],
                checkpoint_dir=str(folder), train=train, valid=valid,
                seconds_left=None if stop_at is None else stop_at - time.monotonic(),
                watches_steps=min(watching) if watching else None)


def _run_on_workers(job: _Job, *, plan: DataParallel, callbacks: Sequence[object],
                    storage: Path) -> None:
    """Fit on the workers while this thread runs the callbacks on the leader's events."""
    events, replies = Queue(), Queue()
    use_gpu = (job.config.device in ("auto", "cuda")
               and ray.cluster_resources().get(  # type: ignore[no-untyped-call]
                   "GPU", 0) >= plan.workers)
    trainer = TorchTrainer(
        _train_on_worker, train_loop_config={"job": job, "events": events, "replies": replies},
        scaling_config=ScalingConfig(num_workers=plan.workers, use_gpu=use_gpu),
        run_config=RunConfig(name="trainforge-fit", storage_path=str(storage),
                             failure_config=FailureConfig(max_failures=MAX_WORKER_FAILURES)))
    outcome: list[BaseException] = []
    fitting = threading.Thread(target=_fit, args=(trainer, outcome), daemon=True)
    fitting.start()
    failure: BaseException | None = None
    while fitting.is_alive() or not events.empty():  # the last events come after the fit
        try:
            hook, payload = events.get(timeout=_POLL_S)
        except Empty:
            continue
        try:
            decisions = [getattr(c, hook)(payload) for c in callbacks if hasattr(c, hook)]
        except Exception as exc:  # noqa: BLE001  # a rule stopping the run: workers stop, then it is raised
            failure, decisions = failure or exc, [Decision.STOP]
        if hook == "on_epoch_end":
            replies.put(Decision.STOP if failure is not None or Decision.STOP in decisions
                        else Decision.CONTINUE)
    for c in callbacks:
        if (failure or outcome) and hasattr(c, "on_error"):
            c.on_error(failure or outcome[0])
    if failure is not None:
        raise failure
    if outcome:
        raise outcome[0]


def _fit(trainer: TorchTrainer, outcome: list[BaseException]) -> None:
    try:
        trainer.fit()
    except BaseException as exc:  # noqa: BLE001  # raised again in the caller's thread
        outcome.append(exc)


def _train_on_worker(settings: dict[str, Any]) -> None:
    """One worker's part: the same Trainer, on its replica's share of each batch."""
    job: _Job = settings["job"]
    context = ray.train.get_context()
    replicas = Replicas(rank=context.get_world_rank(), world_size=context.get_world_size())
    relay: list[object] = []
    if replicas.is_leader:
        relay = [_LeaderRelay(settings["events"], settings["replies"]) if job.watches_steps is None
                 else _LeaderStepRelay(settings["events"], settings["replies"],
                                       every_steps=job.watches_steps)]
    params = list(job.module.parameters())
    trainer = Trainer(job.module, job.config, score=job.score,
                      greater_is_better=job.greater_is_better, augment=job.augment,
                      callbacks=relay, checkpoint_dir=Path(job.checkpoint_dir),
                      architecture=job.architecture, replicas=replicas,
                      trainable=None if job.trainable is None
                      else [params[i] for i in job.trainable])
    stop_at = None if job.seconds_left is None else time.monotonic() + job.seconds_left
    trainer.fit(job.train, job.valid, stop_at=stop_at)


class _LeaderRelay:
    """On the leader: sends the loop's events to the caller, and asks it at each epoch's end
    whether to go on (its callbacks decide, as in a local fit)."""

    def __init__(self, events: Queue, replies: Queue) -> None:
        self.events, self.replies = events, replies

    def on_fit_start(self, config: LoopConfig) -> None:
        self.events.put(("on_fit_start", config))

    def on_epoch_end(self, state: object) -> Decision:
        self.events.put(("on_epoch_end", state))
        try:
            return Decision(self.replies.get(timeout=_REPLY_TIMEOUT_S))
        except Empty:  # the caller is gone: nobody is left to keep the result
            return Decision.STOP

    def on_fit_end(self, history: FitHistory) -> None:
        self.events.put(("on_fit_end", history))


class _LeaderStepRelay(_LeaderRelay):
    """The relay when a callback watches steps (the training rules)."""

    def __init__(self, events: Queue, replies: Queue, *, every_steps: int) -> None:
        super().__init__(events, replies)
        self.every_steps = every_steps

    def on_step_end(self, sample: object) -> None:
        self.events.put(("on_step_end", sample))


__all__ = ["DataParallel", "fit_data_parallel"]
