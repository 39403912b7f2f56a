"""What a search tells its observers: a progress bar, the store, the UI's live leaderboard.

A callback implements any of the hooks (on_fit_start, on_trial_end, on_epoch_end, on_fit_end,
on_error); the ones it lacks are skipped.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class Decision(enum.Enum):
    """What a callback's ``on_epoch_end`` answers: go on, or stop the fit (torch-free, so the
    rules' watch can answer it without importing the loop)."""

    CONTINUE = "continue"
    STOP = "stop"


@dataclass(frozen=True)
class FitInfo:
    """Sent once, before the first trial."""

    task: str  # Task.describe()
    metric: str
    n_rows: int
    n_features: int
    validation: str  # e.g. "5-fold cross-validation" or "holdout of 20% (7,815 rows)"
    budget_s: float | None  # None when a trial count decides instead
    trials: int | None
    algorithms: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TrialEvent:
    """Sent after each trial; ``elapsed_s`` of ``budget_s`` gives a progress bar."""

    number: int
    algorithm: str
    params: dict[str, Any]
    score: float | None  # in the task's metric; None when the trial did not finish
    status: str  # "ok", "pruned", "failed: …", "skipped: memory", "stopped: time", "sampled 20%"
    fit_time_s: float
    elapsed_s: float
    budget_s: float | None
    best_score: float | None


@dataclass(frozen=True)
class EpochEvent:
    """Sent after each epoch of a network being trained (its learning curve, live)."""

    algorithm: str
    epoch: int
    max_epochs: int
    train_loss: float
    val_loss: float | None
    epoch_s: float
    epsilon: float | None = None  # DP-SGD: the ε the network has spent so far


class Callback(Protocol):
    def on_fit_start(self, info: FitInfo) -> None: ...

    def on_trial_end(self, event: TrialEvent) -> None: ...

    def on_fit_end(self, result: Any) -> None: ...

    def on_error(self, exc: BaseException) -> None: ...


def notify(callbacks: Sequence[Any], hook: str, payload: Any) -> None:
    """Call ``hook`` on every callback that has it."""
    for callback in callbacks:
        method = getattr(callback, hook, None)
        if method is not None:
            method(payload)
