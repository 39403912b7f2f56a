"""AutoML for tables: strong defaults, then Optuna, then a greedy ensemble — within a deadline.

``search`` validates every candidate the same way (k-fold cross-validation on small tables, a
holdout on large ones), keeps each candidate's out-of-fold predictions, blends the best by
greedy ensemble selection and returns a ``TabularModel`` ready to predict. With ``trials=N``
exactly N trials run whatever the time, so a seed gives the same model on any machine.

Trials run one at a time in this process, or, given a ``runner`` (``ray_trials.RayTrials``),
several at once in batches (``trial_batches``): the default candidates in their fixed order,
then Optuna's proposals, each batch told to Optuna in trial-number order once all its trials
are back, so the trials do not depend on which finished first, and with ``trials=N`` the same
seed gives the same model whatever the number of workers. The deadline is the same for every
trial of a batch; the ensemble and the final fit happen once, here, at the end.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainforge.algorithms import catalog
from trainforge.algorithms.model import TabularModel, coerce_frame, feature_specs
from trainforge.data.dataset import Schema
from trainforge.data.task import Task
from trainforge.errors import (
    BudgetTooSmall,
    ColumnNotFound,
    ConfigError,
    NoTrialSucceeded,
    NoUsableFeatures,
    PrivacyError,
    StoppedByRule,
    UnusableTarget,
)
from trainforge.runtime.callbacks import Callback, FitInfo, TrialEvent, notify
from trainforge.runtime.rules import RulesMode
from trainforge.training.assembly import (
    REFIT_MARGIN,
    Chosen,
    assemble_model,
    refits_fit,
    score_on_rows,
)
from trainforge.training.ensemble import greedy_selection
from trainforge.training.memory import release_freed_memory
from trainforge.training.portfolio import EXPLICIT_ONLY, Namespaced, default_candidates
from trainforge.training.resampling import CV_MAX_ROWS, plan_resampling
from trainforge.training.scoring import scorer_for
from trainforge.training.trial import CandidateSpec, SearchData, TrialResult, run_trial
from trainforge.training.trial_batches import (
    TRIALS_BATCH,
    Outcome,
    PruneRule,
    Submission,
    TrialRunner,
    prune_rule,
)
from trainforge.training.trial_fits import trial_fits

KEEP_CANDIDATES = 20  # trials whose fitted members are kept for the ensemble
# ... and only while the fold models they hold stay within this; the rest are released and,
# if the blend chooses them, fitted once on all rows. A forest's fold models take 20-130 MB on
# a table of 800-4,000 rows; a boosting candidate's, a few MB. A trial holds at most this much
# while it runs, so members never take more than twice it (the run's imports: ~300 MB)
MEMBERS_BUDGET_MB = 24.0
OPTUNA_ALGORITHMS = 3  # the search tunes this many of the best default algorithms
UNSTOPPABLE_ROWS = 5_000  # above this, an unstoppable fit's guessed time grows with the rows
NETWORK_MIN_S = 10.0  # a network may start when this much time is left (it stops itself)
# a network pays a fixed cost (decoding, tokenizing, a frozen encoder's pass) before its
# first epoch, and on images or text it is the main candidate: it may take more of the time
NETWORK_SHARE = 0.6
TRIAL_SHARE = 0.4  # the most of the remaining time one boosting trial may take (but the first)


@dataclass
class Candidate:
    """One leaderboard row; ``score`` is in the task's metric (validation / out-of-fold)."""

    rank: int | None
    number: int | None  # the trial number; None for rows that are not trials (the ensemble)
    algorithm: str
    params: dict[str, Any]
    score: float | None
    fit_time_s: float
    predict_time_s: float  # per 1,000 rows
    peak_memory_mb: float
    status: str
    note: str = ""


@dataclass
class SearchResult:
    model: TabularModel
    leaderboard: list[Candidate]
    metric: str
    train_score: float  # the final model on its training rows
    validation_score: float  # out-of-fold / holdout: the honest estimate
    n_trials: int
    elapsed_s: float
    # the blend's recipe (candidates, weights, boosting rounds): what refit_on_all repeats
    chosen: list[Chosen] = field(default_factory=list)
    # the blend's out-of-fold predictions (probabilities for classifiers) of the rows at
    # ``validation_rows`` (positions in the searched table): what label issues are found from
    validation_predictions: np.ndarray | None = None
    validation_rows: np.ndarray | None = None
    # (algorithm, train score, validation score) of the finished tabular trials: the search's
    # overfitting check reads them (evaluation.search_rules)
    trial_fits: list[tuple[str, float, float]] = field(default_factory=list)


def search(train: pd.DataFrame, *, task: Task, schema: Schema, features: Sequence[str],
           deadline: float | None, trials: int | None = None, seed: int = 0,
           algorithm: str = "auto", callbacks: Sequence[Callback] = (),
           checkpoint_root: Path | None = None,
           fixed_params: dict[str, Any] | None = None,
           rules: RulesMode = "warn", workers: int = 1, max_epochs: int | None = None,
           privacy: dict[str, Any] | None = None,
           runner: TrialRunner | None = None) -> SearchResult:
    """Find, blend and fit the best model for ``task`` on ``train`` (features + target).

    Args:
        deadline: a ``time.monotonic()`` value by which search and refit are done.
        trials: run exactly this many trials instead (the deadline is then ignored).
        algorithm: "auto", or a catalog name to search only that algorithm.
        checkpoint_root: where networks keep their checkpoints; a search run again with the
            same directory resumes them (and skips the networks it already trained).
        fixed_params: settings every candidate gets (a network's ``init_from``).
        rules: the training rules while a network trains: warn, stop (``StoppedByRule``
            ends the search) or off.
        workers: Ray Train workers each network trains on, data-parallel (1: in this process).
        max_epochs: no network trains more epochs than this (None: each its own number).
        privacy: DP-SGD's settings every network gets (``dp_epsilon``, ``dp_delta``,
            ``dp_max_grad_norm``): only networks it can train are candidates, and the model is
            the best one of them alone, never a blend (each member would spend the budget
            again). The search itself is not private: see docs in the README.
        runner: runs trials several at once (on Ray); None runs them one at a time here.

    Raises BudgetTooSmall when no trial finished before the deadline.
    """
    started = time.monotonic()
    try:
        data, pool = _prepare(train, task=task, schema=schema, features=features, seed=seed,
                              algorithm=algorithm, private=bool(privacy))
        data.checkpoint_root, data.callbacks, data.rules = checkpoint_root, callbacks, rules
        data.workers, data.max_epochs = workers, max_epochs
        if deadline is None and trials is None:
            raise ConfigError("give a time budget (deadline) or a number of trials (--trials)")
        run = _Search(data, pool, deadline=None if trials is not None else deadline,
                      trials=trials, callbacks=callbacks, started=started,
                      fixed_params={**(fixed_params or {}), **(privacy or {})},
                      runner=runner, single=bool(privacy))
        if runner is None:
            result = run.execute()
        else:
            runner.open(data)
            try:
                result = run.execute()
            finally:
                runner.close()
    except BaseException as exc:
        notify(callbacks, "on_error", exc)
        raise
    notify(callbacks, "on_fit_end", result)
    return result


def _prepare(train: pd.DataFrame, *, task: Task, schema: Schema, features: Sequence[str],
             seed: int, algorithm: str, private: bool = False
             ) -> tuple[SearchData, list[catalog.Algorithm]]:
    columns = [str(c) for c in train.columns]
    if task.target not in train.columns:
        raise ColumnNotFound(task.target, "the training table", columns, "--target")
    for name in features:
        if name not in train.columns:
            raise ColumnNotFound(name, "the training table", columns, "the feature list")
        if name not in schema:
            raise ConfigError(f"feature {name!r} has no kind in the schema; infer the schema "
                              "again (infer_schema) or add the column's kind")
    if not features:
        raise NoUsableFeatures("the training table", "the feature list is empty")
    modality = catalog.modality_of(schema[f] for f in features)
    if algorithm == "auto":
        pool = [a for a in catalog.for_task(task.kind, modality) if a.name not in EXPLICIT_ONLY]
    else:
        chosen = catalog.get(algorithm)
        if task.kind not in chosen.kinds:
            raise ConfigError(f"algorithm {algorithm!r} cannot learn a {task.kind.value} task; "
                              "choose another with --algorithm or leave it on auto")
        if modality not in chosen.modalities:
            raise ConfigError(f"algorithm {algorithm!r} cannot learn from {modality} data "
                              f"(it reads {', '.join(sorted(chosen.modalities))}); choose "
                              "another with --algorithm or leave it on auto")
        pool = [chosen]
    if private:
        pool = catalog.trainable_privately(pool, algorithm=algorithm, kind=task.kind,
                                           modality=modality)
    if not pool:
        raise ConfigError(f"no algorithm in the catalog learns a {task.kind.value} task from "
                          f"{modality} data; run `trainforge algorithms list`")
    frame = coerce_frame(train, feature_specs(schema, features))
    y = _encode_target(train[task.target], task)
    # networks train for minutes: one holdout, not k folds of each
    resampling = plan_resampling(y, classification=task.kind.is_classification, seed=seed,
                                 max_cv_rows=CV_MAX_ROWS if modality == "table" else 0)
    data = SearchData(frame=frame, y=y, task=task, schema=schema, features=list(features),
                      resampling=resampling, scorer=scorer_for(task.metric, task.kind),
                      seed=seed)
    return data, pool


def _encode_target(column: pd.Series, task: Task) -> np.ndarray:
    if task.kind.is_classification:
        labels = column.astype("object").where(column.notna(), None).map(
            lambda v: v if v is None else str(v))
        position = {label: code for code, label in enumerate(task.classes)}
        codes = labels.map(lambda v: position.get(v, -1)).to_numpy(dtype=np.int64)
        if (codes < 0).any():
            unknown = labels[codes < 0].iloc[0]
            raise UnusableTarget(task.target, "the training table",
                                 f"holds {unknown!r}, which is not one of the task's classes "
                                 f"({', '.join(task.classes[:8])})",
                                 "clean the target (clean_target) before searching")
        return np.asarray(codes)
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    if np.isnan(values).any():
        raise UnusableTarget(task.target, "the training table", "has missing or non-numeric "
                             "values", "clean the target (clean_target) before searching")
    return np.asarray(values)


class _Search:
    """The state of one search: trials so far, their timings, and the deadline."""

    def __init__(self, data: SearchData, pool: list[catalog.Algorithm], *,
                 deadline: float | None, trials: int | None, callbacks: Sequence[Callback],
                 started: float, fixed_params: dict[str, Any],
                 runner: TrialRunner | None = None, single: bool = False) -> None:
        self.data, self.pool, self.deadline, self.trials = data, pool, deadline, trials
        self.runner, self.single = runner, single  # single: the best model, never a blend
        self.callbacks, self.started, self.fixed_params = callbacks, started, fixed_params
        self.modality = catalog.modality_of(data.schema[f] for f in data.features)
        self.results: list[tuple[int, TrialResult, float]] = []  # (number, result, wall_s)
        self.skipped: list[Candidate] = []
        self.budget_s = None if deadline is None else max(0.0, deadline - started)
        # what assembling the final model needs at the end: ensemble, refit, train score
        reserve = 0.0 if self.budget_s is None else 0.3 + 0.06 * self.budget_s
        self.trial_deadline = None if deadline is None else deadline - reserve

    # ---- the two phases ---------------------------------------------------------------------
    def execute(self) -> SearchResult:
        notify(self.callbacks, "on_fit_start", FitInfo(
            task=self.data.task.describe(), metric=self.data.task.metric,
            n_rows=len(self.data.y), n_features=len(self.data.features),
            validation=self.data.resampling.describe(), budget_s=self.budget_s,
            trials=self.trials, algorithms=[a.name for a in self.pool]))
        if self.runner is not None:
            self._defaults_in_batches(self.runner)
            self._tune()
            return self._finish()
        for default in default_candidates(self.pool, n_rows=len(self.data.y),
                                          modality=self.modality):
            spec = self._for_task(default)
            if self._done():
                break
            if not self._fits_in_time(spec):
                self.skipped.append(_skipped_row(spec, "skipped: time", "would not finish "
                                                 "before the deadline"))
                continue
            self._run(spec, report=None)
        self._tune()
        return self._finish()

    def _tune(self) -> None:
        names = self._tuned_algorithms()
        if not names or self._done() or not any(
                self._fits_in_time(CandidateSpec(name, {})) for name in names):
            return
        import optuna

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.TPESampler(seed=self.data.seed, n_startup_trials=5,
                                                 multivariate=True, group=True)
        pruner = optuna.pruners.PercentilePruner(75.0, n_startup_trials=4, n_warmup_steps=0)
        verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
            if self.runner is None:
                self._optimise(study, names)
            else:
                self._optimise_in_batches(study, names, self.runner)
        finally:
            optuna.logging.set_verbosity(verbosity)

    def _optimise(self, study: Any, names: list[str]) -> None:
        from optuna.trial import TrialState

        too_long_in_a_row = 0
        while not self._done() and too_long_in_a_row < 8:
            asked = self._ask(study, names)
            if asked is None:
                too_long_in_a_row += 1
                continue
            too_long_in_a_row = 0
            trial, spec = asked

            def report(step: int, utility: float, trial: Any = trial) -> bool:
                if not math.isfinite(utility):
                    return False
                trial.report(utility, step)
                return bool(trial.should_prune())

            result = self._run(spec, report=report if len(self.data.resampling.folds) > 1
                               else None)
            if math.isfinite(result.utility):  # finished (its members may be dropped already)
                study.tell(trial, result.utility)
            else:
                study.tell(trial, state=TrialState.PRUNED if result.status == "pruned"
                           else TrialState.FAIL)

    def _ask(self, study: Any, names: list[str]) -> tuple[Any, CandidateSpec] | None:
        """Optuna's next proposal among ``names``, as a trial and its candidate; None (the
        trial told failed) when the candidate would not finish before the deadline."""
        from optuna.trial import TrialState

        trial = study.ask()
        name = trial.suggest_categorical("algorithm", names)
        params = catalog.get(name).search_space(Namespaced(trial, name))
        spec = self._for_task(CandidateSpec(name, params, origin="search"))
        if not self._fits_in_time(spec):
            study.tell(trial, state=TrialState.FAIL)
            return None
        return trial, spec

    def _for_task(self, spec: CandidateSpec) -> CandidateSpec:
        """Add what the metric asks of every model: balanced accuracy counts each class the
        same, so classes are weighted the same in training where the algorithm allows; and
        the settings the caller fixed."""
        if self.fixed_params:
            spec = CandidateSpec(spec.algorithm, {**spec.params, **self.fixed_params},
                                 spec.origin)
        if self.data.task.metric == "balanced_accuracy" and catalog.get(
                spec.algorithm).class_weights:
            return CandidateSpec(spec.algorithm, {**spec.params, "class_weight": "balanced"},
                                 spec.origin)
        return spec

    def _tuned_algorithms(self) -> list[str]:
        """The search tunes the best few algorithms of the default phase."""
        best: dict[str, float] = {}
        for _, result, _ in self.results:
            if math.isfinite(result.utility):
                name = result.spec.algorithm
                best[name] = max(best.get(name, -math.inf), result.utility)
        ranked = sorted(best, key=lambda n: -best[n])
        return sorted(ranked[:OPTUNA_ALGORITHMS])  # sorted: the choice list must be stable

    # ---- several trials at once (a runner) --------------------------------------------------
    def _defaults_in_batches(self, runner: TrialRunner) -> None:
        """The default candidates, in their order: with a trial count all at once (no result
        changes which run), else a batch per round of workers, each checked against the
        time left as the batch is formed."""
        specs = [self._for_task(d) for d in default_candidates(
            self.pool, n_rows=len(self.data.y), modality=self.modality)]
        if self.trials is not None:
            specs = specs[:self.trials]
        while specs and not self._done():
            batch: list[CandidateSpec] = []
            while specs and (self.trials is not None or len(batch) < runner.workers):
                spec = specs.pop(0)
                if self._fits_in_time(spec):
                    batch.append(spec)
                else:
                    self.skipped.append(_skipped_row(spec, "skipped: time", "would not "
                                                     "finish before the deadline"))
            self._run_batch(batch, prune=None, runner=runner)

    def _optimise_in_batches(self, study: Any, names: list[str], runner: TrialRunner) -> None:
        """Optuna's proposals in batches: TRIALS_BATCH at a time with a trial count (so the
        workers cannot change the trials), else one per worker; each batch is told in
        trial-number order once all of it is back."""
        from optuna.trial import TrialState

        too_long_in_a_row = 0
        while not self._done() and too_long_in_a_row < 8:
            size = (runner.workers if self.trials is None
                    else min(TRIALS_BATCH, self.trials - len(self.results)))
            prune = (prune_rule([dict(t.intermediate_values) for t in study.get_trials(
                deepcopy=False, states=(TrialState.COMPLETE,))])
                if len(self.data.resampling.folds) > 1 else None)
            asked: list[tuple[Any, CandidateSpec]] = []
            while len(asked) < size and too_long_in_a_row < 8:
                proposal = self._ask(study, names)
                if proposal is None:
                    too_long_in_a_row += 1
                    continue
                too_long_in_a_row = 0
                asked.append(proposal)
            outcomes = self._run_batch([spec for _, spec in asked], prune=prune, runner=runner)
            for (trial, _), outcome in zip(asked, outcomes, strict=True):
                if outcome is None:
                    study.tell(trial, state=TrialState.FAIL)
                    continue
                for step, utility in outcome.reports:  # what Optuna's pruner reads next
                    trial.report(utility, step)
                if math.isfinite(outcome.result.utility):
                    study.tell(trial, outcome.result.utility)
                else:
                    study.tell(trial, state=TrialState.PRUNED
                               if outcome.result.status == "pruned" else TrialState.FAIL)

    def _run_batch(self, specs: list[CandidateSpec], *, prune: PruneRule | None,
                   runner: TrialRunner) -> list[Outcome | None]:
        """Run ``specs`` on the runner and record them in their order (not the order they
        finished); a trial not started by the deadline is listed as skipped."""
        if not specs:
            return []
        now = time.monotonic()
        stop_at_wall = (None if self.trial_deadline is None
                        else time.time() + (self.trial_deadline - now))
        # after the first model, no trial may spend more than a share of the time left
        first_done = stop_at_wall is not None and any(r.ok for _, r, _ in self.results)
        outcomes = runner.run([Submission(
            spec, stop_at_wall=stop_at_wall, prune=prune if spec.origin == "search" else None,
            boost_share=((NETWORK_SHARE if catalog.get(spec.algorithm).family == "network"
                          else TRIAL_SHARE) if first_done else None)) for spec in specs])
        for spec, outcome in zip(specs, outcomes, strict=True):
            if outcome is None:
                self.skipped.append(_skipped_row(spec, "skipped: time", "not started before "
                                                 "the deadline"))
            else:
                self._record(outcome.result, wall_s=outcome.wall_s)
        return outcomes

    # ---- one trial --------------------------------------------------------------------------
    def _run(self, spec: CandidateSpec, *, report: Any) -> TrialResult:
        began = time.monotonic()
        boost_until = None
        if self.trial_deadline is not None and any(r.ok for _, r, _ in self.results):
            # after the first model, no trial may spend more than a share of the time left
            share = (NETWORK_SHARE if catalog.get(spec.algorithm).family == "network"
                     else TRIAL_SHARE)
            boost_until = began + share * max(0.0, self.trial_deadline - began)
        try:
            result = run_trial(spec, self.data, stop_at=self.trial_deadline,
                               boost_until=boost_until, report=report,
                               keep_mb=MEMBERS_BUDGET_MB)
        except (StoppedByRule, PrivacyError):
            # --rules stop: the user asked for the run to end here; a budget DP-SGD cannot
            # keep would fail every trial alike
            raise
        except Exception as exc:  # noqa: BLE001 -- a failing candidate must not end the search
            result = TrialResult(spec=spec, status=f"failed: {type(exc).__name__}",
                                 note=str(exc)[:300])
        self._record(result, wall_s=time.monotonic() - began)
        return result

    def _record(self, result: TrialResult, *, wall_s: float) -> None:
        """Add a trial's result to the leaderboard and tell the observers."""
        number, spec = len(self.results), result.spec
        self.results.append((number, result, wall_s))
        self._forget_weak()
        finished = [r for _, r, _ in self.results if r.ok]
        best = max(finished, key=lambda r: r.utility).score if finished else None
        notify(self.callbacks, "on_trial_end", TrialEvent(
            number=number, algorithm=spec.algorithm, params=dict(spec.params),
            score=result.score, status=result.status, fit_time_s=result.fit_time_s,
            elapsed_s=time.monotonic() - self.started, budget_s=self.budget_s,
            best_score=best))

    def _forget_weak(self) -> None:
        """Keep the ensemble's pool to the best KEEP_CANDIDATES trials (the rest leave it;
        their scores stay on the leaderboard), and their fitted members within
        MEMBERS_BUDGET_MB, the best first: memory stays flat however long. A trial whose
        members are released stays in the pool; if the blend chooses it, it is fitted once
        on all rows (``assemble_model``)."""
        kept = sorted((r for _, r, _ in self.results if r.ok), key=lambda r: -r.utility)
        for result in kept[KEEP_CANDIDATES:]:
            result.members, result.members_mb = [], 0.0
            result.oof = None
        held_mb = 0.0
        for result in kept[:KEEP_CANDIDATES]:
            if result.members and held_mb + result.members_mb > MEMBERS_BUDGET_MB:
                result.members, result.members_mb, result.released = [], 0.0, True
            held_mb += result.members_mb
        release_freed_memory()  # what the dropped members held goes back to the system

    def _done(self) -> bool:
        if self.trials is not None:
            return len(self.results) >= self.trials
        assert self.trial_deadline is not None
        return time.monotonic() >= self.trial_deadline - self._refit_reserve_s()

    def _refit_reserve_s(self) -> float:
        """On a holdout, time kept to refit the best model so far on all rows."""
        finished = [r for _, r, _ in self.results if r.ok]
        if self.data.resampling.kind != "holdout" or not finished:
            return 0.0
        best = max(finished, key=lambda r: r.utility)
        reserve = best.refit_time_s / self.data.resampling.train_fraction * REFIT_MARGIN
        assert self.trial_deadline is not None  # only asked when there is a deadline
        if time.monotonic() + reserve > self.trial_deadline:
            return 0.0  # too late to refit whatever happens: the time is better spent searching
        return reserve

    def _fits_in_time(self, spec: CandidateSpec) -> bool:
        if self.trial_deadline is None:
            return True
        return (time.monotonic() + self._estimate_s(spec)
                <= self.trial_deadline - self._refit_reserve_s())

    def _estimate_s(self, spec: CandidateSpec) -> float:
        """Seconds a trial needs before it may start: its algorithm's latest wall time, else a
        guess scaled from the first trial by the catalog's cost hints. Boosting and
        cross-validated trials stop themselves when out of time, so their guess is one fold's
        share; a single fit that cannot be stopped (a forest on a large table) is guessed
        pessimistically, growing with the rows, since it cannot be cut short."""
        same = [wall for _, r, wall in self.results if r.spec.algorithm == spec.algorithm
                and r.status.startswith("ok")]
        if same:
            return max(same[-3:])
        finished = [(r, wall) for _, r, wall in self.results if r.ok]
        if not finished:
            return 0.0
        reference, wall = finished[0]
        algorithm = catalog.get(spec.algorithm)
        guess = wall * algorithm.cost / catalog.get(reference.spec.algorithm).cost
        n_folds = len(self.data.resampling.folds)
        if algorithm.family == "network":
            # it stops itself at the trial's deadline, and a few epochs already tell
            return min(guess, NETWORK_MIN_S)
        if algorithm.stops_itself:
            return guess / n_folds
        if n_folds > 1:  # a fold cannot be cut short: leave room for a guess twice too low
            return 2.0 * guess / n_folds
        return guess * max(1.0, len(self.data.resampling.folds[0][0]) / UNSTOPPABLE_ROWS)

    # ---- the end ----------------------------------------------------------------------------
    def _select(self, pool: list[tuple[int, TrialResult]]) -> tuple[np.ndarray, float]:
        truth = self.data.y[self.data.resampling.scored]
        return greedy_selection([r.oof for _, r in pool if r.oof is not None], truth,
                                self.data.scorer, rounds=1 if self.single else 30)

    def _finish(self) -> SearchResult:
        finished = [(n, r) for n, r, _ in self.results if r.ok and r.oof is not None]
        if not finished:
            first = self.results[0][1] if self.results else None
            if first is not None and self.trial_deadline is None:  # --trials: time was not it
                raise NoTrialSucceeded(len(self.results), first.spec.algorithm,
                                       f"{first.status} ({first.note})" if first.note
                                       else first.status)
            needed = (f"the first trial ({first.spec.algorithm}) ended '{first.status}'"
                      if first else "not even one trial could start")
            raise BudgetTooSmall(self.budget_s or 0.0, needed)
        fits = trial_fits([r for _, r in finished], self.data)  # before members are released
        weights, blend_score = self._select(finished)
        if not refits_fit([r for (_, r), w in zip(finished, weights, strict=True)
                           if w > 0 and r.released], self.data, self.deadline):
            # no time to fit the released members it chose: blend those still held, if any
            held = [(n, r) for n, r in finished if not r.released]
            if held:
                finished = held
                weights, blend_score = self._select(finished)
        model, how = assemble_model(self.data, [r for _, r in finished], weights,
                                    deadline=self.deadline)
        train_score = score_on_rows(model, self.data, seed=self.data.seed)
        leaderboard = _leaderboard(self.results, self.skipped, finished, weights, blend_score,
                                   self.data.scorer.greater_is_better, how)
        fit_rows = len(self.data.resampling.folds[0][0])
        chosen = [Chosen(spec=r.spec, weight=float(w), best_iterations=list(r.best_iterations),
                         fit_time_s=r.refit_time_s, n_fits=len(self.data.resampling.folds), fit_rows=fit_rows,
                         sample_fraction=r.sample_fraction)
                  for (_, r), w in zip(finished, weights, strict=True) if w > 0]
        blend = sum(float(w) * np.asarray(r.oof, dtype=np.float64)
                    for (_, r), w in zip(finished, weights, strict=True) if w > 0)
        return SearchResult(model=model, leaderboard=leaderboard, metric=self.data.task.metric,
                            train_score=train_score, validation_score=blend_score,
                            n_trials=len(self.results),
                            elapsed_s=time.monotonic() - self.started, chosen=chosen,
                            validation_predictions=np.asarray(blend),
                            validation_rows=self.data.resampling.scored, trial_fits=fits)


def _skipped_row(spec: CandidateSpec, status: str, note: str) -> Candidate:
    return Candidate(rank=None, number=None, algorithm=spec.algorithm, params=dict(spec.params),
                     score=None, fit_time_s=0.0, predict_time_s=0.0, peak_memory_mb=0.0,
                     status=status, note=note)


def _leaderboard(results: list[tuple[int, TrialResult, float]], skipped: list[Candidate],
                 finished: list[tuple[int, TrialResult]], weights: np.ndarray,
                 blend_score: float, greater_is_better: bool, how: str) -> list[Candidate]:
    rows = [Candidate(rank=None, number=n, algorithm=r.spec.algorithm, params=dict(r.spec.params),
                      score=r.score, fit_time_s=round(r.fit_time_s, 3),
                      predict_time_s=round(r.predict_time_s, 4),
                      peak_memory_mb=round(r.peak_memory_mb, 1),
                      status=(f"sampled {r.sample_fraction:.0%}" if r.ok and r.sample_fraction < 1
                              else r.status), note=r.note) for n, r, _ in results]
    used = [(n, r, w) for (n, r), w in zip(finished, weights, strict=True) if w > 0]
    rows.append(Candidate(
        rank=None, number=None, algorithm="ensemble",
        params={"members": {f"{r.spec.algorithm}#{n}": round(float(w), 4) for n, r, w in used}},
        score=blend_score, fit_time_s=round(sum(r.fit_time_s for _, r, _ in used), 3),
        predict_time_s=round(sum(r.predict_time_s for _, r, _ in used), 4),
        peak_memory_mb=round(max(r.peak_memory_mb for _, r, _ in used), 1), status="ok",
        note=f"greedy selection over {len(finished)} candidates; {how}"))
    sign = 1.0 if greater_is_better else -1.0
    scored = sorted((c for c in rows if c.score is not None and math.isfinite(c.score)),
                    key=lambda c: (-sign * float(c.score or 0.0), c.algorithm != "ensemble"))
    for rank, row in enumerate(scored, start=1):
        row.rank = rank
    return scored + [c for c in rows if c not in scored] + skipped
