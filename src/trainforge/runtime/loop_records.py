"""What the training loop is told and what it reports: its settings, the rows it trains on,
each epoch's numbers and the whole learning curve. Plain data, JSON round-trippable, kept apart
from the loop so that callers and checkpoints can read them without the loop's machinery."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch

from trainforge.errors import ConfigError, DataError
from trainforge.runtime.optimisation import LOSSES, OPTIMIZERS, SCHEDULES


@dataclass(frozen=True)
class LoopConfig:
    """How a network is trained; JSON-able so a checkpoint and a model package can keep it."""

    max_epochs: int = 20
    batch_size: int = 64
    loss: Literal["cross_entropy", "bce", "mse", "huber"] = "cross_entropy"
    label_smoothing: float = 0.0  # cross_entropy only
    optimizer: Literal["sgd", "adam", "adamw"] = "adamw"
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9  # sgd
    nesterov: bool = True  # sgd
    schedule: Literal["constant", "cosine", "onecycle", "plateau"] = "cosine"
    warmup_fraction: float = 0.05  # of all steps (cosine)
    clip_grad_norm: float | None = 1.0
    patience: int = 5  # epochs without a better validation score before stopping
    mixed_precision: bool = False  # float16 + GradScaler on cuda, bfloat16 autocast on cpu
    device: str = "auto"  # "auto" (cuda > mps > cpu), "cuda", "mps", "cpu"
    seed: int = 0
    checkpoint_every_steps: int | None = None  # plus one at every epoch end
    # DP-SGD (runtime.dp_sgd) when dp_epsilon is set: the (ε, δ) the planned epochs may spend
    # (δ None: privacy_budget.default_delta of the training rows) and the per-row clipping bound
    dp_epsilon: float | None = None
    dp_delta: float | None = None
    dp_max_grad_norm: float = 1.0

    def __post_init__(self) -> None:
        for name in ("max_epochs", "batch_size", "patience"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} is {getattr(self, name)}; give a whole number >= 1")
        for name, known in (("loss", LOSSES), ("optimizer", OPTIMIZERS),
                            ("schedule", SCHEDULES)):
            if getattr(self, name) not in known:
                raise ConfigError(f"{name} {getattr(self, name)!r} is not known; choose one of: "
                                  f"{', '.join(known)}")
        if not (self.learning_rate > 0 and 0 <= self.warmup_fraction < 1):
            raise ConfigError(f"learning_rate {self.learning_rate} must be > 0 and "
                              f"warmup_fraction {self.warmup_fraction} in [0, 1)")
        if self.device not in ("auto", "cuda", "mps", "cpu") and not self.device.startswith("cuda:"):
            raise ConfigError(f"device {self.device!r} is not known; use auto, cuda, mps or cpu")
        if self.checkpoint_every_steps is not None and self.checkpoint_every_steps < 1:
            raise ConfigError(f"checkpoint_every_steps is {self.checkpoint_every_steps}; give a "
                              "whole number >= 1, or None for one checkpoint per epoch")

        self._check_privacy()

    def _check_privacy(self) -> None:
        if self.dp_epsilon is not None and not self.dp_epsilon > 0:
            raise ConfigError(f"dp_epsilon is {self.dp_epsilon}; give a value > 0 (e.g. 3)")
        if self.dp_delta is not None and not 0 < self.dp_delta < 1:
            raise ConfigError(f"dp_delta is {self.dp_delta}; give a value in (0, 1), e.g. 1e-5")
        if not self.dp_max_grad_norm > 0:
            raise ConfigError(f"dp_max_grad_norm is {self.dp_max_grad_norm}; give a value > 0")
        if self.dp_delta is not None and self.dp_epsilon is None:
            raise ConfigError("dp_delta is set but dp_epsilon is not; give both, or neither")
        if self.dp_epsilon is not None and self.mixed_precision:
            raise ConfigError("DP-SGD clips each row's gradient in float32; turn "
                              "mixed_precision off with dp_epsilon")

    @property
    def private(self) -> bool:
        return self.dp_epsilon is not None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> LoopConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown loop settings {unknown}; known: {', '.join(sorted(known))}")
        return cls(**values)


@dataclass(frozen=True)
class TensorData:
    """Rows as tensors: the model is called as ``module(*inputs_batch)``."""

    inputs: tuple[torch.Tensor, ...]
    targets: torch.Tensor  # int64 class codes (cross_entropy), float (bce/mse/huber)

    def __post_init__(self) -> None:
        rows = {int(t.shape[0]) for t in (*self.inputs, self.targets)}
        if len(rows) != 1 or not self.inputs:
            raise DataError(f"the inputs and targets must have one row count, got "
                            f"{[int(t.shape[0]) for t in self.inputs]} and "
                            f"{int(self.targets.shape[0])}; slice them from the same rows")

    def __len__(self) -> int:
        return int(self.targets.shape[0])


@dataclass(frozen=True)
class EpochState:
    """What one epoch did; ``best_score`` is of the monitored value (score, else val loss)."""

    epoch: int  # 1-based
    step: int  # optimiser steps so far
    train_loss: float
    val_loss: float | None
    val_score: float | None
    best_score: float | None
    best_epoch: int
    learning_rate: float
    epoch_s: float
    elapsed_s: float
    # classifiers: each class's recall and row count on the validation rows (training rules)
    val_recall: list[float] | None = None
    val_support: list[int] | None = None
    epsilon: float | None = None  # DP-SGD: the ε spent so far (at the fit's δ)


@dataclass
class FitHistory:
    """The learning curve, kept in the model package; ``best_epoch`` is 1-based."""

    epochs: list[EpochState]
    best_epoch: int
    stopped_because: str  # "max_epochs" | "early_stopping" | "time" | "callback"
    resumed_at_step: int | None = None
    # DP-SGD: the budget and what was spent (runtime.dp_sgd.PrivateSteps.summary)
    privacy: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> FitHistory:
        return cls(epochs=[EpochState(**e) for e in values["epochs"]],
                   best_epoch=int(values["best_epoch"]),
                   stopped_because=str(values["stopped_because"]),
                   resumed_at_step=values.get("resumed_at_step"),
                   privacy=values.get("privacy"))
