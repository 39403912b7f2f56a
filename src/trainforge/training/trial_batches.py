"""Trials in batches: what a search hands a backend that runs several trials at once.

The search proposes a batch of trials, the backend runs them (at most ``workers`` at once)
and answers with one ``Outcome`` per trial, in the order given; only then does the search
tell Optuna the batch's results, in trial-number order. So what a batch proposes depends on
the trials told before it, never on which of its own trials finished first: with
``--trials`` the batch size is fixed (``TRIALS_BATCH``, not the number of workers) and the
same seed gives the same trials, scores and model on 1 worker or 100.

Pruning decides the same way: a trial of a batch is pruned against the trials told before
the batch (``PruneRule``, Optuna's percentile rule frozen at the batch's start), not against
its neighbours still running.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from trainforge.training.trial import CandidateSpec, SearchData, TrialResult

# trials Optuna proposes at once with --trials: fixed, so the worker count cannot change the
# model; 8 keeps 8 workers busy and TPE's model still updated every 8 trials
TRIALS_BATCH = 8
# the search's pruner, as in the one-at-a-time search: keep the best 75 % of trials at each
# fold once 4 trials have finished
PRUNE_KEEP_PERCENTILE = 75.0
PRUNE_STARTUP_TRIALS = 4


@dataclass(frozen=True)
class PruneRule:
    """The bar a trial's utility must clear at each fold (step), from the finished trials
    told before its batch; no bar at a step means no pruning there."""

    bars: dict[int, float] = field(default_factory=dict)

    def prunes(self, reports: Sequence[tuple[int, float]]) -> bool:
        """Whether the trial that reported ``reports`` (step, utility) so far stops now: its
        best utility is below the latest step's bar (Optuna's PercentilePruner)."""
        bar = self.bars.get(reports[-1][0])
        return bar is not None and max(u for _, u in reports) < bar


def prune_rule(finished: Sequence[dict[int, float]]) -> PruneRule:
    """The rule from the finished trials' reports (step -> utility each): the 25th
    percentile at each step once PRUNE_STARTUP_TRIALS trials have finished."""
    if len(finished) < PRUNE_STARTUP_TRIALS:
        return PruneRule()
    steps = sorted({step for reports in finished for step in reports})
    return PruneRule({step: float(np.nanpercentile(
        [reports[step] for reports in finished if step in reports],
        100.0 - PRUNE_KEEP_PERCENTILE)) for step in steps})


@dataclass(frozen=True)
class Submission:
    """One trial of a batch and its limits.

    ``stop_at_wall`` is a ``time.time()`` value (the monotonic clock is not shared between
    machines), or None to ignore time; a trial not started by then is not started at all.
    ``boost_share``: the most of the time left at its start one boosting trial may take
    (None: no such limit, the search's first model). ``prune``: None when the trial is not
    pruned (a default candidate, or a holdout's single fold).
    """

    spec: CandidateSpec
    stop_at_wall: float | None
    boost_share: float | None
    prune: PruneRule | None


@dataclass
class Outcome:
    """What a trial sends back: plain data. Its fitted fold models stay where they were fitted
    (``result.released``): the blend fits the ones it chooses once, on all rows, in the
    driver."""

    result: TrialResult
    reports: list[tuple[int, float]]  # (fold, utility so far) as it went: Optuna is told them
    wall_s: float


class TrialRunner(Protocol):
    """A backend that runs a search's trials several at once (``ray_trials.RayTrials``)."""

    @property
    def workers(self) -> int: ...

    def open(self, data: SearchData) -> None:
        """Ship the search's data to where trials run, once for the whole search."""

    def run(self, batch: Sequence[Submission]) -> list[Outcome | None]:
        """Run the batch, at most ``workers`` at once; one answer per submission, in order
        (None for a trial that was not started: its time was up)."""

    def close(self) -> None:
        """Release what ``open`` shipped."""


def released(result: TrialResult) -> TrialResult:
    """``result`` without its fitted fold models, marked to be fitted again if chosen."""
    if result.ok:
        result.released = True
    result.members, result.members_mb = [], 0.0
    return result
