"""One trial: an algorithm with its parameters, fitted and validated on every fold.

Each fold's fitted (preprocessor, estimator) pair is kept as a model member, so a
cross-validated candidate is a bag of fold models whose out-of-fold predictions the
ensemble selection reads. Fold models too large to keep (a forest of deep trees on each of
ten folds: 130 MB on a 4,000-row table) are released as soon as their fold is scored; the
candidate keeps its out-of-fold predictions, and if the blend chooses it, it is fitted once
on all the search's rows (``released``).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainforge.algorithms import catalog
from trainforge.algorithms.model import Member
from trainforge.data.dataset import Schema
from trainforge.data.prepare import TablePreprocessor, make_preprocessor
from trainforge.data.raw_column import make_raw_column
from trainforge.data.task import Task, TaskKind
from trainforge.runtime.callbacks import EpochEvent, notify
from trainforge.runtime.rule_watch import RuleWatch
from trainforge.runtime.rules import Finding, RulesMode
from trainforge.training.forest_slices import grow_in_slices, grows_in_slices
from trainforge.training.memory import PeakMemory, available_mb, estimate_peak_mb, fitted_mb
from trainforge.training.resampling import Resampling
from trainforge.training.scoring import Scorer

# a trial may use this share of the memory free when it starts
MEMORY_SHARE = 0.6
# below this share of the rows a sample is not worth training on
MIN_SAMPLE_FRACTION = 0.1
# tables smaller than this (rows x features) train boosting on one thread
SMALL_TABLE_CELLS = 1_000_000


@dataclass
class PreparedFold:
    preprocessor: Any  # TablePreprocessor, or RawColumn for networks
    train: Any  # matrix of the fold's training rows
    valid: Any  # matrix of its validation rows
    categorical: tuple[int, ...]  # output columns holding category codes


@dataclass
class SearchData:
    """The coerced table, encoded target and folds shared by every trial (with a cache of
    each preprocessing style fitted per fold)."""

    frame: pd.DataFrame
    y: np.ndarray
    task: Task
    schema: Schema
    features: list[str]
    resampling: Resampling
    scorer: Scorer
    seed: int
    # networks checkpoint under this directory (a run's), so an interrupted run resumes
    checkpoint_root: Path | None = None
    callbacks: Sequence[object] = ()  # the search's observers: networks send them epochs
    rules: RulesMode = "warn"  # what the training rules do while a network trains
    workers: int = 1  # Ray Train workers a network trains on, data-parallel
    max_epochs: int | None = None  # the user's cap on every network's epochs (--max-epochs)
    _prepared: dict[tuple[str, int], PreparedFold] = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        return len(self.task.classes)

    def prepared(self, style: str, fold: int) -> PreparedFold:
        key = (style, fold)
        if key not in self._prepared:
            train_rows, valid_rows = self.resampling.folds[fold]
            self._prepared[key] = self.prepare(style, train_rows, valid_rows)
        return self._prepared[key]

    def prepare(self, style: str, train_rows: np.ndarray, valid_rows: np.ndarray
                ) -> PreparedFold:
        target_type = {TaskKind.BINARY: "binary", TaskKind.MULTICLASS: "multiclass",
                       TaskKind.REGRESSION: "continuous"}[self.task.kind]
        preprocessor: Any
        if style in ("image", "text"):
            preprocessor = make_raw_column(self.schema, self.features, kind=style)
        else:
            preprocessor = make_preprocessor(self.schema, self.features, style=style,  # type: ignore[arg-type]
                                             target_type=target_type)  # type: ignore[arg-type]
        train = preprocessor.fit_transform(self.frame.iloc[train_rows], self.y[train_rows])
        valid = preprocessor.transform(self.frame.iloc[valid_rows]) if len(valid_rows) else None
        return PreparedFold(preprocessor, train, valid, categorical_outputs(preprocessor))


def categorical_outputs(preprocessor: Any) -> tuple[int, ...]:
    """Positions of the output columns that hold ordinal category codes."""
    if not isinstance(preprocessor, TablePreprocessor):
        return ()  # a network's raw column
    positions, offset = [], 0
    for step in preprocessor.plan_:
        if step["op"] == "ordinal":
            positions.append(offset)
        if step["op"] != "text":
            offset += int(step["width"])
    return tuple(positions)


@dataclass(frozen=True)
class CandidateSpec:
    algorithm: str
    params: dict[str, Any]
    origin: str = "default"  # "default" (the portfolio) or "search" (Optuna)


@dataclass
class TrialResult:
    spec: CandidateSpec
    status: str
    note: str = ""
    score: float | None = None  # in the metric's own units
    utility: float = -np.inf  # higher is better
    oof: np.ndarray | None = None  # predictions for ``resampling.scored``
    members: list[Member] = field(default_factory=list)
    members_mb: float = 0.0  # what the fitted estimators hold in memory (fitted_mb)
    fit_time_s: float = 0.0
    predict_time_s: float = 0.0  # per 1,000 rows
    peak_memory_mb: float = 0.0
    best_iterations: list[int] = field(default_factory=list)
    # rounds actually trained per fold: a network runs `patience` epochs past its best one
    iterations_run: list[int] = field(default_factory=list)
    sample_fraction: float = 1.0
    # its fold models were not kept (too large): a blend that chooses it fits it on all rows
    released: bool = False

    @property
    def ok(self) -> bool:
        return self.oof is not None

    @property
    def refit_time_s(self) -> float:
        """What fitting it again for its best rounds costs: a network that ran past its best
        epoch (early stopping's patience) refits only up to that epoch."""
        run, best = sum(self.iterations_run), sum(self.best_iterations)
        if run > 0 and 0 < best < run:
            return self.fit_time_s * best / run
        return self.fit_time_s


Report = Callable[[int, float], bool]  # (fold, utility so far) -> prune?


def run_trial(spec: CandidateSpec, data: SearchData, *, stop_at: float | None,
              boost_until: float | None = None, report: Report | None = None,
              keep_mb: float = float("inf"), memory_share: float = MEMORY_SHARE
              ) -> TrialResult:
    """Fit ``spec`` on every fold; stops early (status says why) when pruned, out of time or
    out of memory. ``stop_at`` is a time.monotonic() value, or None to ignore time;
    ``boost_until`` (at most ``stop_at``) is when boosting stops adding trees, shared
    equally by the folds. When the first fold's model shows that all folds' models would
    hold more than ``keep_mb``, each is released once its fold is scored (``released``).
    ``memory_share``: the share of the memory free at the start this trial may use (less
    when other trials run beside it on the same machine)."""
    algorithm = catalog.get(spec.algorithm)
    result = TrialResult(spec=spec, status="ok")
    fraction = _memory_fraction(result, algorithm.name, data, share=memory_share)
    if fraction is None:
        return result
    out_of_fold = _OutOfFold(data.resampling.scored)
    fold_times: list[float] = []
    predict_s = 0.0
    folds = data.resampling.folds
    limit = stop_at if boost_until is None or stop_at is None else min(stop_at, boost_until)
    native = algorithm.stops_itself  # these stop themselves at a given time
    for index, (train_rows, valid_rows) in enumerate(folds):
        started = time.monotonic()
        if (stop_at is not None and fold_times and started + max(fold_times) > stop_at
                and not (native and started < stop_at)):
            return _unfinished(result, "stopped: time", fold_times)
        fold = data.prepared(algorithm.preprocessing, index)
        # give each remaining fold an equal share of the time left
        fold_stop = None if limit is None else started + max(0.0, limit - started) / (
            len(folds) - index)
        # a fold model may hold its share of keep_mb; once released, none is kept (a
        # holdout's one model too: released, it is fitted on all rows if the blend chooses it)
        fold_keep_mb = (0.0 if result.released else
                        float("inf") if index > 0 else keep_mb / len(folds))
        estimator, output, elapsed, peak_mb = _fit_fold(algorithm, spec, data, fold, train_rows,
                                                        valid_rows, fraction=fraction,
                                                        stop_at=fold_stop,
                                                        seed=data.seed + index,
                                                        keep_mb=fold_keep_mb)
        predict_s += elapsed
        out_of_fold.add(valid_rows, output)
        _keep_member(result, estimator, fold, peak_mb, n_folds=len(folds))
        if index == 0 and (estimator is None or result.members_mb * len(folds) > keep_mb):
            result.released = True
        if result.released:
            result.members, result.members_mb = [], 0.0
        del estimator
        fold_times.append(time.monotonic() - started)
        if report is not None and index + 1 < len(folds):
            rows, part = out_of_fold.so_far()
            if report(index, data.scorer.utility(data.y[rows], part)):
                return _unfinished(result, "pruned", fold_times)
    oof = out_of_fold.averaged()
    result.oof = oof
    result.fit_time_s = sum(fold_times) - predict_s
    result.predict_time_s = predict_s / max(1, out_of_fold.n_predicted) * 1000.0
    truth = data.y[data.resampling.scored]
    result.score = data.scorer.score(truth, oof)
    result.utility = data.scorer.utility(truth, oof)
    return result


class _OutOfFold:
    """Validation predictions gathered fold by fold; a row scored by several repeats gets
    the mean of its predictions."""

    def __init__(self, scored: np.ndarray) -> None:
        self.scored = scored
        self.position = {row: i for i, row in enumerate(scored.tolist())}
        self.summed: np.ndarray | None = None
        self.times = np.zeros(len(scored), dtype=np.float64)
        self.n_predicted = 0

    def add(self, rows: np.ndarray, output: np.ndarray) -> None:
        if self.summed is None:
            self.summed = np.zeros((len(self.scored), *output.shape[1:]), dtype=np.float64)
        positions = [self.position[r] for r in rows.tolist()]
        self.summed[positions] += output
        self.times[positions] += 1.0
        self.n_predicted += len(rows)

    def so_far(self) -> tuple[np.ndarray, np.ndarray]:
        """The rows scored so far (table positions) and their mean predictions."""
        assert self.summed is not None  # called after a fold
        seen = np.flatnonzero(self.times > 0)
        return self.scored[seen], _averaged(self.summed[seen], self.times[seen])

    def averaged(self) -> np.ndarray:
        assert self.summed is not None  # resampling always has a fold
        return _averaged(self.summed, self.times)


def _memory_fraction(result: TrialResult, name: str, data: SearchData, *,
                     share: float) -> float | None:
    """The share of the rows to train on; None (and the result says so) when too few fit."""
    fraction = _sample_fraction(name, data, share=share)
    if fraction < MIN_SAMPLE_FRACTION:
        result.status = "skipped: memory"
        result.note = (f"needs ~{_estimate(name, data):,.0f} MB; "
                       f"{available_mb():,.0f} MB free")
        return None
    if fraction < 1.0:
        result.sample_fraction = fraction
        result.note = f"sampled {fraction:.0%} of the rows to fit in memory"
    return fraction


def _keep_member(result: TrialResult, estimator: Any, fold: PreparedFold, peak_mb: float, *,
                 n_folds: int) -> None:
    spec = result.spec
    result.peak_memory_mb = max(result.peak_memory_mb, peak_mb)
    if estimator is None:  # a forest grown a slice at a time, each slice dropped
        result.best_iterations.append(0)
        result.iterations_run.append(0)
        return
    result.members.append(Member(algorithm=spec.algorithm, params=dict(spec.params),
                                 preprocessor=fold.preprocessor, estimator=estimator,
                                 weight=1.0 / n_folds))
    result.members_mb += fitted_mb(estimator)
    best = int(getattr(estimator, "best_iteration_", 0))
    result.best_iterations.append(best)
    result.iterations_run.append(int(getattr(estimator, "iterations_run_", best)))
    if getattr(estimator, "stopped_by_time_", False) and "stopped early" not in result.note:
        result.note = (result.note + "; " if result.note else "") + "stopped early: time"


def _unfinished(result: TrialResult, status: str, fold_times: list[float]) -> TrialResult:
    result.status = status
    result.fit_time_s = sum(fold_times)
    result.members, result.members_mb = [], 0.0  # an unfinished trial cannot be blended
    return result


def _fit_fold(algorithm: catalog.Algorithm, spec: CandidateSpec, data: SearchData,
              fold: PreparedFold, train_rows: np.ndarray, valid_rows: np.ndarray, *,
              fraction: float, stop_at: float | None, seed: int,
              keep_mb: float = float("inf")) -> tuple[Any, np.ndarray, float, float]:
    """The fitted estimator, its validation output, predict seconds and peak memory (MB).
    A forest that would hold more than ``keep_mb`` is grown a slice at a time and not kept:
    the estimator is then None."""
    X, y = fold.train, data.y[train_rows]
    if fraction < 1.0:
        keep = np.sort(np.random.default_rng(seed).choice(
            len(train_rows), size=max(2, int(len(train_rows) * fraction)), replace=False))
        X, y = X[keep], y[keep]
    estimator = configure(algorithm.build(spec.params, data.task, seed), data, fold)
    if grows_in_slices(estimator):
        classes = data.n_classes if data.task.kind.is_classification else 0
        with PeakMemory() as memory:
            grown = grow_in_slices(estimator, X, y, fold.valid, n_classes=classes,
                                   keep_mb=keep_mb)
        if grown.kept and classes and len(estimator.classes_) < classes:
            estimator = catalog.AlignedClassifier(estimator, classes)
        return (estimator if grown.kept else None), grown.output, grown.predict_s, memory.peak_mb
    native = hasattr(estimator, "save_native")
    with PeakMemory() as memory:
        if native:
            y_valid = data.y[valid_rows]
            extra = network_options(estimator, data, spec.algorithm, spec.params,
                                    n_rows=len(y), seed=seed, stage="trial")
            estimator.fit(X, y, eval_set=(fold.valid, y_valid), stop_at=stop_at, **extra)
        else:
            estimator.fit(X, y)
    if (data.task.kind.is_classification and not native
            and len(estimator.classes_) < data.n_classes):
        estimator = catalog.AlignedClassifier(estimator, data.n_classes)
    started = time.monotonic()
    if data.task.kind.is_classification:
        output = np.asarray(estimator.predict_proba(fold.valid), dtype=np.float64)
    else:
        output = np.asarray(estimator.predict(fold.valid), dtype=np.float64).reshape(-1)
    return estimator, output, time.monotonic() - started, memory.peak_mb


class _EpochRelay:
    """Passes a network's epochs to the search's observers (progress bar, store, UI)."""

    def __init__(self, callbacks: Sequence[object], algorithm: str, max_epochs: int) -> None:
        self.callbacks, self.algorithm, self.max_epochs = callbacks, algorithm, max_epochs

    def on_epoch_end(self, state: Any) -> None:
        notify(self.callbacks, "on_epoch_end", EpochEvent(
            algorithm=self.algorithm, epoch=int(state.epoch), max_epochs=self.max_epochs,
            train_loss=float(state.train_loss),
            val_loss=None if state.val_loss is None else float(state.val_loss),
            epoch_s=float(state.epoch_s),
            epsilon=None if state.epsilon is None else float(state.epsilon)))

    def on_rule(self, finding: Finding) -> None:
        notify(self.callbacks, "on_rule", finding)


def network_options(estimator: Any, data: SearchData, algorithm: str, params: dict[str, Any],
                    *, n_rows: int, seed: int, stage: str) -> dict[str, Any]:
    """For a network: its workers, the user's cap on its epochs, the checkpoint directory of
    this fit (the same fit of a resumed run finds it again), the epoch relay and the training
    rules. Nothing for other estimators."""
    if not getattr(estimator, "reports_epochs", False):
        return {}
    estimator.set_params(workers=data.workers, epoch_limit=data.max_epochs)
    if data.checkpoint_root is not None:
        key = json.dumps([algorithm, params, n_rows, seed, stage], sort_keys=True, default=str)
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        estimator.set_params(checkpoint_dir=str(data.checkpoint_root / f"{algorithm}-{digest}"))
    max_epochs = int(estimator.get_params()["max_epochs"])
    if data.max_epochs is not None:
        max_epochs = min(max_epochs, data.max_epochs)
    relay = _EpochRelay(data.callbacks, algorithm, max_epochs)
    if data.rules == "off":
        return {"callbacks": [relay]}
    return {"callbacks": [relay, RuleWatch(mode=data.rules, report=relay.on_rule,
                                           where=algorithm)]}


def _averaged(summed: np.ndarray, times: np.ndarray) -> np.ndarray:
    shape = (-1,) + (1,) * (summed.ndim - 1)
    return np.asarray(summed / np.maximum(times, 1.0).reshape(shape))


def configure(estimator: Any, data: SearchData, fold: PreparedFold) -> Any:
    """Tell a boosting estimator which columns are categories, and run it on one thread for
    small tables: there a second thread costs more in synchronisation than it saves."""
    params = estimator.get_params()
    if "categorical_features" in params:
        estimator.set_params(categorical_features=fold.categorical)
    if "n_threads" in params and len(data.y) * len(data.features) < SMALL_TABLE_CELLS:
        estimator.set_params(n_threads=1)
    return estimator


def _estimate(name: str, data: SearchData) -> float:
    n_train = len(data.resampling.folds[0][0])
    outputs = data.n_classes if data.task.kind is TaskKind.MULTICLASS else 1
    return estimate_peak_mb(name, n_rows=n_train, n_columns=len(data.features),
                            n_outputs=outputs)


def _sample_fraction(name: str, data: SearchData, *, share: float) -> float:
    """The share of the training rows that fits in ``share`` of the free memory (1.0 when
    all do)."""
    needed = _estimate(name, data)
    budget = available_mb() * share
    return 1.0 if needed <= budget else budget / needed
