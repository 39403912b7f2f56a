"""Differential privacy's bookkeeping: what noise an (ε, δ) budget needs, and what was spent.

Pure accounting on Opacus's Rényi-DP accountant, with no model in sight, so that any loop that
adds Gaussian noise to subsampled, clipped updates can use it: DP-SGD in the PyTorch loop
(``runtime.dp_sgd``) with one step per batch, and central DP for a federation with one step
per round (the sample rate is then the share of clients taking part).

    >>> plan = plan_noise(epsilon=3.0, delta=1e-5, sample_rate=0.01, steps=1_000)
    >>> 0.5 < plan.noise_multiplier < 2.0
    True
    >>> ledger = PrivacyLedger()
    >>> ledger.step(noise_multiplier=plan.noise_multiplier, sample_rate=0.01, steps=1_000)
    >>> ledger.epsilon(1e-5) <= 3.0
    True
"""

from __future__ import annotations

import contextlib
import functools
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from opacus.accountants import RDPAccountant
from opacus.accountants.analysis import rdp as rdp_analysis
from opacus.accountants.utils import get_noise_multiplier

from trainforge.errors import PrivacyBudgetTooSmall, PrivacyDeltaTooLarge

DEFAULT_DELTA = 1e-5
# noise this many times the clipping bound drowns any signal a few thousand rows can give:
# past it, training only spends time (MNIST, 8,000 rows: accuracy near chance from σ ≈ 10)
MAX_NOISE_MULTIPLIER = 50.0
EPSILON_TOLERANCE = 0.01  # the calibrated noise reaches ε within this (it never exceeds it)


def default_delta(n_rows: int) -> float:
    """δ when none is given: 1e-5, or a tenth of 1/n when that is smaller (δ must stay well
    under 1/n: δ = 1/n allows a mechanism that publishes one person's row outright)."""
    return min(DEFAULT_DELTA, 0.1 / max(1, n_rows))


def check_delta(delta: float, n_rows: int, *, what: str = "--dp-delta") -> None:
    """Refuse a δ of 1/n or more for ``n_rows`` protected records (rows, or clients)."""
    if delta >= 1.0 / max(1, n_rows):
        raise PrivacyDeltaTooLarge(delta, n_rows, what=what)


@dataclass(frozen=True)
class NoisePlan:
    """The noise that spends (ε, δ) over ``steps`` steps of Poisson rate ``sample_rate``."""

    epsilon: float
    delta: float
    sample_rate: float
    steps: int
    noise_multiplier: float  # noise std / clipping bound


def plan_noise(*, epsilon: float, delta: float, sample_rate: float, steps: int,
               planned: str = "", max_noise_multiplier: float = MAX_NOISE_MULTIPLIER,
               remedy: str = "") -> NoisePlan:
    """The smallest noise multiplier whose (ε, δ) after ``steps`` steps is within ``epsilon``.

    Raises PrivacyBudgetTooSmall, naming the smallest usable ε, when that noise would be more
    than ``max_noise_multiplier`` times the clipping bound. ``planned`` says in words what the
    steps are (for that message: "30 epochs of 64 rows from 8,000"); ``remedy``, what else
    than a larger ε would help (default: more rows).
    """
    smallest = epsilon_after(noise_multiplier=max_noise_multiplier, sample_rate=sample_rate,
                             steps=steps, delta=delta)
    if epsilon < smallest:
        raise PrivacyBudgetTooSmall(epsilon, smallest, limit=max_noise_multiplier,
                                    planned=planned, remedy=remedy)
    with _loose_orders_allowed():
        sigma = get_noise_multiplier(target_epsilon=epsilon, target_delta=delta,
                                     sample_rate=sample_rate, steps=steps, accountant="rdp",
                                     epsilon_tolerance=EPSILON_TOLERANCE)
    return NoisePlan(epsilon=epsilon, delta=delta, sample_rate=sample_rate, steps=steps,
                     noise_multiplier=float(sigma))


def epsilon_after(*, noise_multiplier: float, sample_rate: float, steps: int,
                  delta: float) -> float:
    """ε spent after ``steps`` steps at this noise and rate (Rényi DP, converted at δ)."""
    ledger = PrivacyLedger()
    ledger.step(noise_multiplier=noise_multiplier, sample_rate=sample_rate, steps=steps)
    return ledger.epsilon(delta)


@contextlib.contextmanager
def _loose_orders_allowed() -> Iterator[None]:
    """Silence "optimal order is the largest alpha": the bound is then looser (a larger ε)
    than a wider range of Rényi orders would give, never smaller, so it is safe to report."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Optimal order", category=UserWarning)
        yield


class PrivacyLedger:
    """The steps taken so far and the ε they spent: Opacus's RDP accountant, whose history
    is kept as JSON (a checkpoint carries it, so a resumed fit counts every step once)."""

    def __init__(self, history: list[Any] | None = None) -> None:
        self._accountant = RDPAccountant()
        self._accountant.history = [(float(s), float(q), int(n)) for s, q, n in history or []]

    def step(self, *, noise_multiplier: float, sample_rate: float, steps: int = 1) -> None:
        history = self._accountant.history
        if history and history[-1][:2] == (noise_multiplier, sample_rate):
            history[-1] = (noise_multiplier, sample_rate, history[-1][2] + steps)
        else:
            history.append((float(noise_multiplier), float(sample_rate), int(steps)))

    @property
    def steps(self) -> int:
        return sum(int(n) for _, _, n in self._accountant.history)

    def epsilon(self, delta: float) -> float:
        """ε spent so far at ``delta`` (0 before the first step): what Opacus's
        ``RDPAccountant.get_epsilon`` answers, from each (noise, rate)'s one-step RDP."""
        if not self._accountant.history:
            return 0.0
        orders = RDPAccountant.DEFAULT_ALPHAS
        rdp = sum(np.asarray(_rdp_of_one_step(s, q)) * n for s, q, n in self._accountant.history)
        with _loose_orders_allowed():
            spent, _ = rdp_analysis.get_privacy_spent(orders=orders, rdp=rdp, delta=delta)
        return float(spent) if math.isfinite(spent) else math.inf

    def to_json(self) -> list[list[float]]:
        return [[float(s), float(q), int(n)] for s, q, n in self._accountant.history]


# Rényi DP adds up over steps (Opacus's compute_rdp is one step's RDP times the steps), and one
# step's costs 0.03–0.35 s of series sums: a fit that reports ε every epoch computes it once
# per (noise, rate), not once an epoch (tests/jobs/test_dp_training.py's fit: 82 s → 23 s)
@functools.lru_cache(maxsize=64)
def _rdp_of_one_step(noise_multiplier: float, sample_rate: float) -> tuple[float, ...]:
    rdp = rdp_analysis.compute_rdp(q=sample_rate, noise_multiplier=noise_multiplier, steps=1,
                                   orders=RDPAccountant.DEFAULT_ALPHAS)
    return tuple(float(v) for v in np.atleast_1d(rdp))
