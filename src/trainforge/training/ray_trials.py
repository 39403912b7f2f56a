"""Search trials as Ray tasks: ``RayTrials``, the trial runner of ``--search-backend ray``.

    runner = RayTrials(workers=4, address="127.0.0.1:6379")  # None: this machine's
    search(train, ..., runner=runner)

The search's data (the coerced table, the encoded target, the folds) goes into Ray's object
store once per search (``open``: one ``ray.put``); each task is handed a reference to it, and
each Ray worker process keeps the last search's data it read, with the preprocessing it fitted
per fold, so a worker running several trials of a search reads the table and prepares each
fold once. A trial reserves 1 CPU and sends back plain data (``trial_batches.Outcome``:
scores, out-of-fold predictions, timings, what it reported per fold); its fitted fold models
stay in the task. The blend fits the few trials it chooses once on all rows, in the driver,
as the local search does for trials too large to keep: cheaper than shipping every trial's
fold models back, most of which the blend never chooses (benchmarks/scale/NOTES-search.md).

Memory is checked where a trial runs: it may take its share of its node's free memory
divided by the trials that node runs at once (its CPUs, at most ``workers``).

Only the Ray search backend imports this module: the local path never imports Ray.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import replace
from functools import cache

import ray

from trainforge.errors import PrivacyError, StoppedByRule
from trainforge.runtime.ray_cluster import join
from trainforge.training.trial import (
    MEMORY_SHARE,
    SearchData,
    TrialResult,
    run_trial,
)
from trainforge.training.trial_batches import Outcome, Submission, released

# this worker process's copy of the search data it last read (one search at a time: the
# previous one's is dropped), keyed by its object's id
_held: dict[str, SearchData] = {}


class RayTrials:
    """Runs a search's trials as Ray tasks, at most ``workers`` at once."""

    def __init__(self, *, workers: int, address: str | None) -> None:
        self._workers, self.address = workers, address
        self._shared: list[ray.ObjectRef[SearchData]] = []

    @property
    def workers(self) -> int:
        return self._workers

    def open(self, data: SearchData) -> None:
        join(self.address)
        # the observers stay with the driver (they hold the store); the folds' preprocessing
        # is fitted again where the trials run
        self._shared = [ray.put(replace(data, callbacks=(), _prepared={}))]

    def run(self, batch: Sequence[Submission]) -> list[Outcome | None]:
        outcomes: list[Outcome | None] = [None] * len(batch)
        waiting = list(enumerate(batch))
        running: dict[ray.ObjectRef[Outcome], int] = {}
        while waiting or running:
            while waiting and len(running) < self._workers:
                index, submission = waiting.pop(0)
                if submission.stop_at_wall is not None and time.time() >= submission.stop_at_wall:
                    continue  # its time is up: not started
                # in a list, so that Ray hands the task the reference, not a fresh copy
                running[_trial.remote(submission, self._shared, self._workers)] = index
            if not running:
                break
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                index = running.pop(ref)
                outcomes[index] = _answer(ref, batch[index])
        return outcomes

    def close(self) -> None:
        self._shared = []  # the last reference gone, Ray frees the object


def _answer(ref: ray.ObjectRef[Outcome], submission: Submission) -> Outcome:
    try:
        outcome: Outcome = ray.get(ref)
        return outcome
    except ray.exceptions.RayTaskError as error:
        if isinstance(error.cause, StoppedByRule | PrivacyError):
            # --rules stop: the user asked for the run to end; a budget that cannot be kept
            raise error.cause from None
        reason = type(error.cause).__name__
    except ray.exceptions.RayError as error:  # its worker or node died (out of memory?)
        reason = type(error).__name__
    return Outcome(TrialResult(spec=submission.spec, status=f"failed: {reason}"), [], 0.0)


@ray.remote(num_cpus=1, max_retries=0)
def _trial(submission: Submission, shared: list[ray.ObjectRef[SearchData]],
           workers: int) -> Outcome:
    data = _data_of(shared[0])
    began = time.monotonic()
    stop_at = (None if submission.stop_at_wall is None
               else began + (submission.stop_at_wall - time.time()))
    boost_until = (None if submission.boost_share is None or stop_at is None
                   else began + submission.boost_share * max(0.0, stop_at - began))
    reports: list[tuple[int, float]] = []
    rule = submission.prune

    def report(step: int, utility: float) -> bool:
        if not math.isfinite(utility) or rule is None:
            return False
        reports.append((step, utility))
        return rule.prunes(reports)

    try:
        # keep_mb=0: each fold model goes as soon as its fold is scored (it never travels)
        result = run_trial(submission.spec, data, stop_at=stop_at, boost_until=boost_until,
                           report=report if rule is not None else None, keep_mb=0.0,
                           memory_share=MEMORY_SHARE / _trials_beside(workers))
    except (StoppedByRule, PrivacyError):
        raise
    except Exception as exc:  # noqa: BLE001 -- a failing candidate must not end the search
        result = TrialResult(spec=submission.spec, status=f"failed: {type(exc).__name__}",
                             note=str(exc)[:300])
    return Outcome(released(result), reports, time.monotonic() - began)


def _data_of(ref: ray.ObjectRef[SearchData]) -> SearchData:
    key = ref.hex()
    if key not in _held:
        _held.clear()
        _held[key] = ray.get(ref)
    return _held[key]


@cache
def _trials_beside(workers: int) -> int:
    """How many of the search's trials this node may run at once, this one included."""
    node = ray.get_runtime_context().get_node_id()
    cpus = next((n["Resources"].get("CPU", 1.0) for n in ray.nodes()  # type: ignore[no-untyped-call]
                 if n["NodeID"] == node),
                1.0)
    return max(1, min(workers, int(cpus)))
