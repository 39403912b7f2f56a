"""The one PyTorch training loop every network is trained with (CNNs, GRUs, transformers, MiniLM).

``Trainer.fit`` reads top to bottom: restore or seed, then epochs of ``run_epoch`` →
``evaluate`` → ``save_checkpoint`` → callbacks, until max_epochs, early stopping, the deadline
or a callback ends it; the best weights are restored and a final checkpoint is marked complete.
It is seeded (one generator for shuffling and augmentation, ``torch.manual_seed`` for dropout),
so an interrupted and resumed fit ends with exactly the weights of an uninterrupted one.

Given ``replicas`` (runtime.replicas), the same fit runs data-parallel: each process trains on
its share of every batch through DDP, evaluates the whole validation set, takes the leader's
decisions, and only the leader checkpoints (runtime.data_parallel starts them on Ray Train).

Given ``dp_epsilon`` in its config, the same fit runs DP-SGD (runtime.dp_sgd): Poisson batches,
each row's gradient clipped, calibrated noise, and the ε spent in every ``EpochState``; its
accountant's steps travel in the checkpoints, so a resumed fit counts each step once.
"""

from __future__ import annotations

import contextlib
import math
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from trainforge.errors import CheckpointMismatch, ConfigError, DataError, NeedsDeepLearning
from trainforge.runtime import checkpoints as ckpt
from trainforge.runtime.callbacks import Decision
from trainforge.runtime.loop_records import (
    EpochState,
    FitHistory,
    LoopConfig,
    TensorData,
)
from trainforge.runtime.optimisation import (
    Schedule,
    make_loss,
    make_optimizer,
)
from trainforge.runtime.replicas import Replicas
from trainforge.runtime.step_probe import StepProbe

if TYPE_CHECKING:
    from trainforge.runtime.dp_sgd import PrivateSteps

__all__ = ["Decision", "EpochState", "FitHistory", "LoopConfig", "TensorData", "Trainer"]

Score = Callable[[torch.Tensor, torch.Tensor], float]
Augment = Callable[[tuple[torch.Tensor, ...], torch.Generator], tuple[torch.Tensor, ...]]
# loop settings a checkpoint must share with the fit that resumes it (the rest may change)
_RESUME_SETTINGS = ("loss", "optimizer", "batch_size", "schedule", "dp_epsilon", "dp_delta",
                    "dp_max_grad_norm")
# what a private fit's error says to use instead of a layer DP-SGD cannot clip per row
_PRIVATE_NETWORKS = ("use a network without them: for images cnn (it trains with GroupNorm "
                     "under --dp-epsilon), for text minilm or minilm_tuned")


@dataclass
class _Run:
    """Everything that changes during a fit: what a checkpoint must keep besides the module."""

    optimizer: torch.optim.Optimizer
    schedule: Schedule
    scaler: torch.amp.GradScaler | None
    loss_sum: torch.Tensor  # the epoch's summed training loss, on the device: read once an epoch
    batches: list[tuple[int, int]]
    train_rows: int
    epoch: int = 0  # epochs completed
    step: int = 0
    position: int = 0  # batches done in the current epoch
    permutation: torch.Tensor | None = None
    history: list[EpochState] = field(default_factory=list)
    best_score: float | None = None
    best_epoch: int = 0
    waited: int = 0
    best_state: dict[str, torch.Tensor] | None = None  # CPU copy; None = the current weights
    elapsed_before_s: float = 0.0
    started: float = field(default_factory=time.monotonic)
    resumed_at_step: int | None = None

    def elapsed_s(self) -> float:
        return self.elapsed_before_s + time.monotonic() - self.started


class Trainer:
    """Trains ``module`` with ``config``; see the module docstring for the phases."""

    def __init__(self, module: nn.Module, config: LoopConfig, *, score: Score | None = None,
                 greater_is_better: bool = True, augment: Augment | None = None,
                 callbacks: Sequence[object] = (), checkpoint_dir: Path | None = None,
                 architecture: Mapping[str, Any] | None = None,
                 trainable: Iterable[nn.Parameter] | None = None,
                 replicas: Replicas | None = None) -> None:
        self.config = config
        self._device = _resolve_device(config.device)
        self.module = module.to(self._device)
        self._replicas = replicas or Replicas()
        self._net = self.module  # what training steps run through (DDP's wrapper, replicated)
        self._score, self._greater = score, greater_is_better
        self._augment, self._callbacks = augment, list(callbacks)
        self._checkpoint_dir, self._architecture = checkpoint_dir, dict(architecture or {})
        self._params = (list(trainable) if trainable is not None
                        else [p for p in module.parameters() if p.requires_grad])
        self._loss = make_loss(config.loss, label_smoothing=config.label_smoothing)
        self._generator = torch.Generator()  # shuffling; on the CPU, where the rows are indexed
        self._augment_generator = (self._generator if self._device.type == "cpu"
                                   else torch.Generator(device=self._device))
        self._amp_dtype = _amp_dtype(self._device, mixed_precision=config.mixed_precision)
        self._interrupted = False
        self._private: PrivateSteps | None = None  # DP-SGD's parts, when config.private
        # a callback with on_step_end (the training rules) is sent a StepSample every few steps
        watching = [int(getattr(c, "every_steps", 1)) for c in self._callbacks
                    if hasattr(c, "on_step_end")]
        self._probe = (StepProbe(self.module, self._params, every_steps=min(watching))
                       if watching else None)

    @property
    def device(self) -> torch.device:
        return self._device

    def fit(self, train: TensorData, valid: TensorData | None = None, *,
            stop_at: float | None = None) -> FitHistory:
        """Train, validate, checkpoint and stop; returns the learning curve.

        Args:
            stop_at: a ``time.monotonic()`` deadline; training stops at the first step past it.
        """
        found = self._load_checkpoint(len(train))
        if found is not None and found.meta.get("complete"):
            self._load_weights(found, prefix="model/")
            return FitHistory.from_dict(found.meta["history"])
        run = self._start_run(train, valid)
        train = self._placed(train)
        if self.config.private:
            self._private = self._make_private(run)
        if found is not None:
            self._resume(run, found)
        self._interrupted = False
        with self._sigint_sets_a_flag(), self._only_trainable_need_gradients():
            try:
                _notify(self._callbacks, "on_fit_start", self.config)
                # wrapped once the trainable parameters are chosen: DDP syncs only those
                self._net = (self._private.wrap_module(self.module) if self._private
                             else self._replicas.wrap(self.module, device=self._device))
                try:
                    stopped_because = self._train(run, train, valid, stop_at=stop_at)
                finally:
                    self._unwrap()
                if run.best_state is not None:
                    self.module.load_state_dict(run.best_state)
                history = FitHistory(run.history, run.best_epoch, stopped_because,
                                     run.resumed_at_step,
                                     privacy=None if self._private is None else
                                     {**self._private.summary(), "epochs": len(run.history)})
                self._save_checkpoint(run, complete_history=history)
                _notify(self._callbacks, "on_fit_end", history)
            except BaseException as exc:
                _notify(self._callbacks, "on_error", exc)
                raise
        return history

    def predict(self, inputs: tuple[torch.Tensor, ...], *, batch_size: int = 256) -> torch.Tensor:
        """The module's outputs for ``inputs`` (eval mode, no grad), as float CPU tensors."""
        self.module.eval()
        rows = int(inputs[0].shape[0])
        chunks = []
        with torch.no_grad(), self._autocast():
            for start in range(0, max(rows, 1), batch_size):
                batch = tuple(t[start:start + batch_size].to(self._device, non_blocking=True)
                              for t in inputs)
                out = self.module(*batch)
                chunks.append((out.float() if out.is_floating_point() else out).cpu())
        return torch.cat(chunks)

    # ---- the phases of fit, in order --------------------------------------------------------
    def _train(self, run: _Run, train: TensorData, valid: TensorData | None, *,
               stop_at: float | None) -> str:
        while True:
            if run.epoch >= self.config.max_epochs:
                return "max_epochs"
            if valid is not None and run.waited >= self.config.patience:
                return "early_stopping"
            if self._past(stop_at):
                return "time"
            started = time.perf_counter()
            cut_short = self._run_epoch(run, train, stop_at=stop_at)
            state = self._end_epoch(run, valid, rows_seen=run.batches[run.position - 1][1],
                                    started=started)
            _fit_schedule_to_deadline(run, stop_at, epoch_s=state.epoch_s,
                                      replicas=self._replicas)
            self._save_checkpoint(run)
            if self._interrupted:
                raise KeyboardInterrupt
            decisions = _notify(self._callbacks, "on_epoch_end", state)
            if self._replicas.agree(Decision.STOP in decisions):
                return "callback"
            if cut_short:
                return "time"

    def _run_epoch(self, run: _Run, train: TensorData, *, stop_at: float | None) -> bool:
        """Train on the rest of the epoch; True when cut short by the deadline."""
        self.module.train()
        if run.position == 0:
            run.permutation = torch.randperm(len(train), generator=self._generator)
            run.loss_sum.zero_()
        assert run.permutation is not None  # drawn above, or restored by _resume
        order = run.permutation.to(train.targets.device)
        every = self.config.checkpoint_every_steps
        for start, end in run.batches[run.position:]:
            rows = (order[start:end] if self._private is None  # DP: a Poisson sample instead
                    else self._private.sample_rows(len(train), self._generator))
            self._train_step(run, train, rows.to(order.device))
            run.position += 1
            run.step += 1
            if self._interrupted:
                self._save_checkpoint(run)
                raise KeyboardInterrupt
            if every and run.step % every == 0 and run.position < len(run.batches):
                self._save_checkpoint(run)  # the epoch's end saves one anyway
            if run.position < len(run.batches) and self._past(stop_at):
                return True
        return False

    def _train_step(self, run: _Run, train: TensorData, rows: torch.Tensor) -> None:
        if self._private is not None and rows.numel() == 0:
            self._noise_only_step(run)
            return
        rows = self._replicas.share(rows)
        inputs = tuple(t[rows].to(self._device, non_blocking=True) for t in train.inputs)
        targets = train.targets[rows].to(self._device, non_blocking=True)
        if self._augment is not None:
            inputs = self._augment(inputs, self._augment_generator)
        probe = self._probe if self._probe is not None and self._probe.due(run.step + 1) else None
        with (probe.relu_activity() if probe is not None else contextlib.nullcontext()), \
                self._autocast():
            loss = self._loss(self._net(*inputs), targets)
        run.optimizer.zero_grad(set_to_none=True)
        if run.scaler is not None:
            run.scaler.scale(loss).backward()
            run.scaler.unscale_(run.optimizer)  # clip the true gradients, not the scaled ones
        else:
            loss.backward()
        if probe is not None:
            probe.gradients()  # before clipping: an exploding gradient is what clipping hides
        if self._private is None:
            self._clip()  # DP-SGD clips each row's gradient itself
        if run.scaler is not None:
            run.scaler.step(run.optimizer)
            run.scaler.update()
        else:
            run.optimizer.step()
        if self._private is not None:
            self._private.count_step()
        learning_rate = run.schedule.learning_rate
        run.schedule.after_step()
        run.loss_sum.add_(loss.detach(), alpha=int(rows.shape[0]))
        if probe is not None:
            sample = probe.sample(loss=loss, epoch=run.epoch + 1, step=run.step + 1,
                                  learning_rate=learning_rate)
            _notify(self._callbacks, "on_step_end", sample)

    def _noise_only_step(self, run: _Run) -> None:
        """An empty Poisson batch: the step is taken and counted all the same (its noise)."""
        assert self._private is not None  # only private fits sample empty batches
        run.optimizer.zero_grad(set_to_none=True)
        self._private.noise_only(self._params)
        run.optimizer.step()
        self._private.count_step()
        run.schedule.after_step()

    def _end_epoch(self, run: _Run, valid: TensorData | None, *, rows_seen: int,
                   started: float) -> EpochState:
        """Evaluate, keep the best weights, feed the schedule; returns the epoch's state."""
        run.epoch, run.position = run.epoch + 1, 0
        train_loss = float(self._replicas.total(run.loss_sum)) / max(1, rows_seen)
        val_loss, val_score, recall = (self._evaluate(valid) if valid is not None
                                       else (None, None, None))
        monitored = val_score if self._score is not None else val_loss
        if monitored is not None:  # each replica's BatchNorm statistics differ a little
            monitored = self._replicas.leaders(monitored)
        if valid is None:
            run.best_epoch = run.epoch  # nothing to choose by: the last epoch is the best
        elif monitored is not None and _better(monitored, run.best_score,
                                               greater=self._score is not None and self._greater):
            run.best_score, run.best_epoch, run.waited = monitored, run.epoch, 0
            run.best_state = {k: v.detach().to("cpu", copy=True)
                              for k, v in self.module.state_dict().items()}
        else:
            run.waited += 1
        run.schedule.after_epoch(monitored if valid is not None else train_loss)
        state = EpochState(epoch=run.epoch, step=run.step, train_loss=train_loss,
                           val_loss=val_loss, val_score=val_score, best_score=run.best_score,
                           best_epoch=run.best_epoch, learning_rate=run.schedule.learning_rate,
                           epoch_s=time.perf_counter() - started, elapsed_s=run.elapsed_s(),
                           val_recall=None if recall is None else recall[0],
                           val_support=None if recall is None else recall[1],
                           epsilon=None if self._private is None else self._private.epsilon())
        run.history.append(state)
        return state

    def _evaluate(self, valid: TensorData
                  ) -> tuple[float, float | None, tuple[list[float], list[int]] | None]:
        """Validation loss, score, and (classifiers) each class's recall and row count."""
        outputs = self.predict(valid.inputs, batch_size=max(256, self.config.batch_size))
        targets = valid.targets.cpu()
        with torch.no_grad():
            val_loss = float(self._loss(outputs, targets))
        score = None if self._score is None else float(self._score(outputs, targets))
        if self.config.loss != "cross_entropy" or outputs.dim() != 2:
            return val_loss, score, None
        classes = int(outputs.shape[1])
        support = torch.bincount(targets, minlength=classes)
        hits = torch.bincount(targets[outputs.argmax(1) == targets], minlength=classes)
        recall = (hits.float() / support.clamp(min=1).float()).tolist()
        return val_loss, score, ([float(r) for r in recall], [int(n) for n in support.tolist()])

    # ---- setting up and resuming -----------------------------------------------------------
    def _start_run(self, train: TensorData, valid: TensorData | None) -> _Run:
        torch.manual_seed(self.config.seed)  # dropout (and whatever else draws from torch)
        # DP-SGD's batches are a secret draw: batches anyone could recompute from the seed
        # would lose the privacy their random sampling gives (runtime.dp_sgd)
        sampling_seed = self.config.seed if not self.config.private else secrets.randbits(62)
        self._generator.manual_seed(sampling_seed)
        self._augment_generator.manual_seed(sampling_seed)
        batches = _batches(len(train), self.config.batch_size,
                           replicas=self._replicas.world_size)
        if self._probe is not None:
            self._probe.plan(steps_per_epoch=len(batches))
        c = self.config
        optimizer = make_optimizer(c.optimizer, self._params, learning_rate=c.learning_rate,
                                   weight_decay=c.weight_decay, momentum=c.momentum,
                                   nesterov=c.nesterov)
        schedule = Schedule(optimizer, c.schedule, total_steps=len(batches) * c.max_epochs,
                            warmup_fraction=c.warmup_fraction,
                            plateau_patience=max(1, c.patience // 2),
                            greater_is_better=(valid is not None and self._score is not None
                                               and self._greater))
        scaler = (torch.amp.GradScaler("cuda") if self._amp_dtype == torch.float16 else None)
        return _Run(optimizer=optimizer, schedule=schedule, scaler=scaler, batches=batches,
                    train_rows=len(train),
                    loss_sum=torch.zeros((), device=self._device))

    def _make_private(self, run: _Run) -> PrivateSteps:
        """DP-SGD's parts for this fit: its layers checked, its noise calibrated to spend at
        most (ε, δ) over the planned epochs, and the optimiser made noisy."""
        try:
            from trainforge.runtime.dp_sgd import PrivateSteps, check_layers
            from trainforge.runtime.privacy_budget import check_delta, default_delta, plan_noise
        except ImportError:
            raise NeedsDeepLearning("DP-SGD (--dp-epsilon)", missing="Opacus") from None
        c, rows = self.config, run.train_rows
        if self._replicas.world_size > 1:
            raise ConfigError("DP-SGD trains in one process here: leave --workers at 1 with "
                              "--dp-epsilon")
        assert c.dp_epsilon is not None  # config.private
        self.module.train()
        check_layers(self.module, network=str(self._architecture.get("architecture",
                                                                        "this")),
                     hint=_PRIVATE_NETWORKS)
        delta = c.dp_delta if c.dp_delta is not None else default_delta(rows)
        check_delta(delta, rows)
        steps = c.max_epochs * len(run.batches)
        plan = plan_noise(epsilon=c.dp_epsilon, delta=delta,
                          sample_rate=min(1.0, c.batch_size / rows), steps=steps,
                          planned=f"{c.max_epochs} epochs of about {c.batch_size} of the "
                                  f"{rows:,} training rows")
        private = PrivateSteps(plan, max_grad_norm=c.dp_max_grad_norm,
                               batch_size=c.batch_size)
        run.optimizer = private.wrap_optimizer(run.optimizer)
        return private

    def _unwrap(self) -> None:
        """Take DP-SGD's per-row hooks off the module: predicting needs none of them."""
        if self._private is not None:
            self._private.unwrap(self._net)
            self._net = self.module

    def _settings(self, train_rows: int) -> dict[str, Any]:
        settings = {**{k: getattr(self.config, k) for k in _RESUME_SETTINGS},
                    "train_rows": train_rows}
        if self._replicas.world_size > 1:  # its batches may drop a different last one
            settings["workers"] = self._replicas.world_size
        return settings

    def _load_checkpoint(self, train_rows: int) -> ckpt.Checkpoint | None:
        if self._checkpoint_dir is None:
            return None
        found = ckpt.load_checkpoint(self._checkpoint_dir)
        if found is not None:
            ckpt.check_compatible(found, architecture=self._architecture,
                                  settings=self._settings(train_rows))
        return found

    def _load_weights(self, found: ckpt.Checkpoint, *, prefix: str) -> None:
        try:
            self.module.load_state_dict(ckpt.prefixed(found.tensors, prefix))
        except RuntimeError as exc:  # same architecture dict, other tensors: say which
            raise CheckpointMismatch(str(found.path), "its weights do not fit this network ("
                                     + str(exc).splitlines()[0] + ")") from exc

    def _resume(self, run: _Run, found: ckpt.Checkpoint) -> None:
        meta, tensors = found.meta, found.tensors
        self._load_weights(found, prefix="model/")
        run.best_state = ckpt.prefixed(tensors, "best/") or None
        run.optimizer.load_state_dict(
            ckpt.join_optimizer_state(tensors, meta["optimizer"], prefix="optimizer/"))
        run.schedule.load_state_dict(meta["schedule"])
        if run.scaler is not None and meta.get("scaler"):
            run.scaler.load_state_dict(meta["scaler"])
        torch.set_rng_state(tensors["rng/torch"])
        self._generator.set_state(tensors["rng/loop"])
        if "rng/augment" in tensors:
            self._augment_generator.set_state(tensors["rng/augment"])
        if "rng/cuda" in tensors and self._device.type == "cuda":
            torch.cuda.set_rng_state(tensors["rng/cuda"], self._device)
        if self._private is not None:  # the steps already taken stay counted
            self._private.load_state(tensors, meta.get("privacy") or [])
        run.permutation = tensors.get("epoch/permutation")
        run.loss_sum = tensors["epoch/loss_sum"].to(self._device)
        run.history = [EpochState(**e) for e in meta["history"]["epochs"]]
        run.epoch, run.step, run.position = meta["epoch"], meta["step"], meta["position"]
        run.best_score, run.best_epoch, run.waited = (meta["best_score"], meta["best_epoch"],
                                                      meta["waited"])
        run.elapsed_before_s, run.resumed_at_step = meta["elapsed_s"], meta["step"]

    def _save_checkpoint(self, run: _Run, *, complete_history: FitHistory | None = None) -> None:
        """Keep everything a resume needs; a complete one keeps only the final weights."""
        if self._checkpoint_dir is None or not self._replicas.is_leader:
            return  # the replicas' weights are the same: the leader's checkpoint is theirs
        history = complete_history or FitHistory(run.history, run.best_epoch, "running",
                                                 run.resumed_at_step)
        tensors = {f"model/{k}": v for k, v in self.module.state_dict().items()}
        meta: dict[str, Any] = {"complete": complete_history is not None,
                                "architecture": self._architecture,
                                "settings": self._settings(run.train_rows),
                                "config": self.config.to_dict(), "history": history.to_dict()}
        if complete_history is None:
            tensors |= self._resume_tensors(run)
            optimizer_tensors, optimizer_rest = ckpt.split_optimizer_state(
                run.optimizer.state_dict(), prefix="optimizer/")
            tensors |= optimizer_tensors
            meta |= {"optimizer": optimizer_rest, "schedule": run.schedule.state_dict(),
                     "scaler": run.scaler.state_dict() if run.scaler is not None else None,
                     "epoch": run.epoch, "step": run.step, "position": run.position,
                     "best_score": run.best_score, "best_epoch": run.best_epoch,
                     "waited": run.waited, "elapsed_s": run.elapsed_s(),
                     "privacy": self._private.ledger.to_json() if self._private else None}
        ckpt.save_checkpoint(self._checkpoint_dir, meta=meta, tensors=tensors)

    def _resume_tensors(self, run: _Run) -> dict[str, torch.Tensor]:
        tensors = {f"best/{k}": v for k, v in (run.best_state or {}).items()}
        tensors |= {"rng/torch": torch.get_rng_state(), "rng/loop": self._generator.get_state(),
                    "epoch/loss_sum": run.loss_sum}
        if self._augment_generator is not self._generator:
            tensors["rng/augment"] = self._augment_generator.get_state()
        if self._device.type == "cuda":
            tensors["rng/cuda"] = torch.cuda.get_rng_state(self._device)
        if run.position > 0 and run.permutation is not None:
            tensors["epoch/permutation"] = run.permutation  # a mid-epoch resume needs its order
        if self._private is not None:
            tensors |= self._private.state_tensors()
        return tensors

    # ---- small mechanics ---------------------------------------------------------------------
    def _past(self, deadline: float | None) -> bool:
        """Past the deadline by the leader's clock: replicas stop at the same step."""
        return deadline is not None and self._replicas.agree(time.monotonic() >= deadline)

    def _placed(self, data: TensorData) -> TensorData:
        """On a GPU the training rows move there once, when they take under a quarter of its
        free memory: copying each batch from the CPU would be most of a small network's step."""
        if self._device.type != "cuda":
            return data
        size = sum(t.numel() * t.element_size() for t in (*data.inputs, data.targets))
        if size > torch.cuda.mem_get_info(self._device)[0] // 4:
            return data
        return TensorData(tuple(t.to(self._device) for t in data.inputs),
                          data.targets.to(self._device))

    def _clip(self) -> None:
        if self.config.clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(self._params, self.config.clip_grad_norm)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self._amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self._device.type, dtype=self._amp_dtype)

    @contextlib.contextmanager
    def _only_trainable_need_gradients(self) -> Iterator[None]:
        """A frozen backbone gets no gradients during the fit (half the backward pass);
        the module's own ``requires_grad`` flags are back afterwards, for a later stage."""
        chosen = {id(p) for p in self._params}
        flags = [(p, p.requires_grad) for p in self.module.parameters()]
        for p, _ in flags:
            p.requires_grad_(id(p) in chosen)
        try:
            yield
        finally:
            for p, flag in flags:
                p.requires_grad_(flag)

    @contextlib.contextmanager
    def _sigint_sets_a_flag(self) -> Iterator[None]:
        """Ctrl-C finishes the current step, saves a checkpoint and then interrupts."""
        if threading.current_thread() is not threading.main_thread():
            yield  # signal handlers can only be set from the main thread
            return
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum: int, frame: FrameType | None) -> None:
            if self._interrupted:  # a second Ctrl-C: the user does not want to wait
                raise KeyboardInterrupt
            self._interrupted = True

        signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous if previous is not None
                          else signal.default_int_handler)


def _fit_schedule_to_deadline(run: _Run, stop_at: float | None, *, epoch_s: float,
                              replicas: Replicas) -> None:
    """Shorten a per-step schedule to the epochs the deadline leaves: a cosine or one-cycle
    rate cut off half way is still high, and its model is worse than one trained on a shorter
    schedule that reached its low rates (600 digits, a 60 s budget: test accuracy 72 % → 90 %)."""
    if stop_at is None or not run.schedule.per_step or epoch_s <= 0:
        return
    epochs_left = max(1, math.floor((stop_at - time.monotonic()) / epoch_s))
    epochs_left = int(replicas.leaders(epochs_left))  # one schedule, or the weights drift apart
    run.schedule.shorten_to(run.step + epochs_left * len(run.batches))


def _batches(rows: int, batch_size: int, *, replicas: int = 1) -> list[tuple[int, int]]:
    """(start, end) of each batch; a last batch that would leave a replica one row (or none)
    is dropped: BatchNorm cannot train on it (the rows are reshuffled every epoch, so no row is
    left out for good)."""
    if rows < 1:
        raise DataError("there are no training rows; give at least one row to train on")
    bounds = [(start, min(start + batch_size, rows)) for start in range(0, rows, batch_size)]
    short = bounds[-1][1] - bounds[-1][0] < 2 * replicas
    return bounds[:-1] if len(bounds) > 1 and short else bounds


def _better(value: float, best: float | None, *, greater: bool) -> bool:
    if math.isnan(value):
        return False
    return best is None or (value > best if greater else value < best)


def _notify(callbacks: Sequence[object], hook: str, *args: object) -> list[object]:
    return [getattr(c, hook)(*args) for c in callbacks if hasattr(c, hook)]


def _resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} was asked for but PyTorch sees no CUDA GPU; use "
                          "device='auto' or 'cpu'")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps' was asked for but this machine has no Apple GPU; use "
                          "device='auto' or 'cpu'")
    return torch.device(name)


def _amp_dtype(device: torch.device, *, mixed_precision: bool) -> torch.dtype | None:
    """float16 on cuda (with a GradScaler), bfloat16 on cpu; none on mps, which has no scaler."""
    if not mixed_precision or device.type == "mps":
        return None
    return torch.float16 if device.type == "cuda" else torch.bfloat16
