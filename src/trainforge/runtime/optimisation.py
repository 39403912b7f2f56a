"""Losses, optimisers and learning-rate schedules for the PyTorch loop, as pure factories.

Each factory takes plain values (not a ``LoopConfig``) so it can be tested alone and reused by
loops that are not ours (``rl/``, ``federated/``). The schedules are our own small classes rather
than ``torch.optim.lr_scheduler``: their whole state is a few numbers, so a checkpoint can keep it
as JSON and a resumed run continues on exactly the same learning rates.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from trainforge.errors import ConfigError

LOSSES = ("cross_entropy", "bce", "mse", "huber")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "onecycle", "plateau")


class _Loss(nn.Module):
    """A loss that accepts the outputs networks naturally give: (N, 1) for one target, any float.

    Outputs are computed in float32 (an autocast float16 output would lose the small differences
    a loss is made of), and regression targets take the outputs' dtype.
    """

    def __init__(self, kind: str, *, label_smoothing: float) -> None:
        super().__init__()
        self.kind = kind
        self.label_smoothing = label_smoothing

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        outputs = outputs.float()
        if self.kind == "cross_entropy":
            return nn.functional.cross_entropy(outputs, targets,
                                               label_smoothing=self.label_smoothing)
        outputs = outputs.reshape(targets.shape)  # (N, 1) -> (N,): one output per target
        targets = targets.to(outputs.dtype)
        if self.kind == "bce":
            return nn.functional.binary_cross_entropy_with_logits(outputs, targets)
        if self.kind == "mse":
            return nn.functional.mse_loss(outputs, targets)
        return nn.functional.huber_loss(outputs, targets, delta=1.0)


def make_loss(kind: str, *, label_smoothing: float = 0.0) -> nn.Module:
    """The loss ``kind`` as a module called ``loss(outputs, targets)`` -> mean over the batch.

    ``cross_entropy`` takes logits (N, k) and int64 class codes; ``bce`` takes logits (N,) or
    (N, 1) and float 0/1 targets; ``mse`` and ``huber`` (delta 1) take any matching shape.
    """
    _check_choice("loss", kind, LOSSES)
    if not 0.0 <= label_smoothing < 1.0:
        raise ConfigError(f"label_smoothing is {label_smoothing}; give a value in [0, 1)")
    if label_smoothing and kind != "cross_entropy":
        raise ConfigError(f"label_smoothing applies to the cross_entropy loss, not {kind!r}; "
                          "set it to 0")
    return _Loss(kind, label_smoothing=label_smoothing)


def make_optimizer(kind: str, parameters: Iterable[nn.Parameter], *, learning_rate: float,
                   weight_decay: float = 0.0, momentum: float = 0.9,
                   nesterov: bool = True) -> torch.optim.Optimizer:
    """An optimiser over ``parameters`` whose weight decay skips biases and norm weights.

    A parameter with one dimension or fewer (biases, LayerNorm/BatchNorm scales) is never
    decayed: shrinking it towards zero only fights the normalisation. Parameters come without
    names (a frozen backbone passes only its head's), so the shape is what decides.
    """
    _check_choice("optimizer", kind, OPTIMIZERS)
    if learning_rate <= 0:
        raise ConfigError(f"learning_rate is {learning_rate}; give a positive value (e.g. 1e-3)")
    params = [p for p in parameters if p.requires_grad]
    if not params:
        raise ConfigError("there are no trainable parameters to optimise; pass the parameters "
                          "to train (trainable=...) or unfreeze some")
    decayed = [p for p in params if p.ndim > 1]
    kept = [p for p in params if p.ndim <= 1]
    groups: list[dict[str, Any]] = [{"params": g, "weight_decay": wd}
                                    for g, wd in ((decayed, weight_decay), (kept, 0.0)) if g]
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=learning_rate, momentum=momentum,
                               nesterov=nesterov and momentum > 0)
    if kind == "adam":
        return torch.optim.Adam(groups, lr=learning_rate)
    return torch.optim.AdamW(groups, lr=learning_rate)


class Schedule:
    """Sets the optimiser's learning rate after every step (per-step kinds) or epoch (plateau).

    * ``constant``: the base rate throughout.
    * ``cosine``: a linear warm-up over ``warmup_fraction`` of all steps, then a half cosine
      down to 0 at the last step.
    * ``onecycle``: up from base/25 to base over the first 30 % (cosine), then down to
      base/25e4 (Smith's one-cycle, learning rate only: momentum is left as configured).
    * ``plateau``: halves the rate when the monitored value has not improved for
      ``plateau_patience`` epochs.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, kind: str, *, total_steps: int,
                 warmup_fraction: float = 0.05, plateau_patience: int = 2,
                 greater_is_better: bool = False) -> None:
        _check_choice("schedule", kind, SCHEDULES)
        self.optimizer = optimizer
        self.kind = kind
        self.total_steps = max(1, total_steps)
        self.warmup_steps = round(warmup_fraction * self.total_steps)
        self.plateau_patience = plateau_patience
        self.greater_is_better = greater_is_better
        self.base_rates = [float(g["lr"]) for g in optimizer.param_groups]
        self.steps_done = 0
        self.plateau_factor = 1.0
        self.plateau_best: float | None = None
        self.plateau_waited = 0
        self._apply()

    @property
    def per_step(self) -> bool:
        """Whether ``after_step`` changes anything (the loop skips the call otherwise)."""
        return self.kind in ("cosine", "onecycle")

    @property
    def learning_rate(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def factor(self, step: int) -> float:
        """The multiplier of the base rate for the ``step``-th optimiser step (0-based)."""
        if self.kind == "cosine":
            if step < self.warmup_steps:
                return (step + 1) / (self.warmup_steps + 1)  # never exactly 0: step 0 must move
            span = max(1, self.total_steps - self.warmup_steps)
            done = min(1.0, (step - self.warmup_steps) / span)
            return 0.5 * (1.0 + math.cos(math.pi * done))
        if self.kind == "onecycle":
            rise = max(1, round(0.3 * self.total_steps))
            start, end = 1 / 25, 1 / 25e4
            if step < rise:
                return _cosine_between(start, 1.0, step / rise)
            falling = min(1.0, (step - rise) / max(1, self.total_steps - rise))
            return _cosine_between(1.0, end, falling)
        return self.plateau_factor

    def shorten_to(self, total_steps: int) -> None:
        """End the schedule after ``total_steps`` (never later than planned): the rest of the
        curve is compressed into the steps left, keeping the steps already done."""
        total = max(self.steps_done + 1, int(total_steps))
        if total >= self.total_steps:
            return
        self.warmup_steps = min(self.warmup_steps, round(self.warmup_steps * total
                                                         / self.total_steps))
        self.total_steps = total
        self._apply()

    def after_step(self) -> None:
        self.steps_done += 1
        if self.per_step:
            self._apply()

    def after_epoch(self, monitored: float | None) -> None:
        """Feed the epoch's validation score (or loss); only ``plateau`` uses it."""
        if self.kind != "plateau" or monitored is None or math.isnan(monitored):
            return
        better = (self.plateau_best is None
                  or (monitored > self.plateau_best if self.greater_is_better
                      else monitored < self.plateau_best))
        if better:
            self.plateau_best, self.plateau_waited = monitored, 0
            return
        self.plateau_waited += 1
        if self.plateau_waited >= self.plateau_patience:
            self.plateau_factor, self.plateau_waited = self.plateau_factor * 0.5, 0
            self._apply()

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps, "steps_done": self.steps_done,
                "plateau_factor": self.plateau_factor, "plateau_best": self.plateau_best,
                "plateau_waited": self.plateau_waited}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.total_steps = int(state["total_steps"])
        self.warmup_steps = int(state["warmup_steps"])
        self.steps_done = int(state["steps_done"])
        self.plateau_factor = float(state["plateau_factor"])
        self.plateau_best = state["plateau_best"]
        self.plateau_waited = int(state["plateau_waited"])
        self._apply()

    def _apply(self) -> None:
        factor = self.factor(self.steps_done)
        for group, base in zip(self.optimizer.param_groups, self.base_rates, strict=True):
            group["lr"] = base * factor


def _cosine_between(start: float, end: float, progress: float) -> float:
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _check_choice(field: str, value: str, known: tuple[str, ...]) -> None:
    if value not in known:
        raise ConfigError(f"{field} {value!r} is not known; choose one of: {', '.join(known)}")
