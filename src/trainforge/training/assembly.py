"""From the chosen candidates to one fitted TabularModel."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainforge.algorithms import catalog
from trainforge.algorithms.model import Member, TabularModel, feature_specs
from trainforge.training.trial import (
    CandidateSpec,
    SearchData,
    TrialResult,
    configure,
    network_options,
)

REFIT_MARGIN = 1.3  # a refit on all rows costs about this much more than the fold fit per row

TRAIN_SCORE_ROWS = 5_000  # the training score reads a sample: it is a diagnosis, not a result
# a network predicts ~100x slower than a tree (MiniLM: a full encoder pass per text): a smaller
# sample keeps the diagnosis from eating the budget (it cost 60 s of a 300 s SMS run)
NETWORK_TRAIN_SCORE_ROWS = 1_000


@dataclass(frozen=True)
class Chosen:
    """One candidate of the final blend, as the search validated it: enough to fit it again."""

    spec: CandidateSpec
    weight: float
    best_iterations: list[int]  # boosting rounds kept, per fold (0 for other algorithms)
    fit_time_s: float  # all its validation fits together (up to their best rounds)
    n_fits: int  # how many fits that was (the folds)
    fit_rows: int  # rows each fit learned from
    sample_fraction: float = 1.0  # < 1 when memory allowed only a sample of the rows


def assemble_model(data: SearchData, results: Sequence[TrialResult], weights: np.ndarray, *,
                   deadline: float | None) -> tuple[TabularModel, str]:
    """The blend of ``results`` with ``weights``, and a note saying how its members were fit.
    Cross-validated candidates bring their fold models (a bag), but those whose fold models
    were released (too large to keep), which are fitted once on all rows; holdout candidates
    are refitted on all rows when the time allows (released ones always are)."""
    chosen = [(r, float(w)) for r, w in zip(results, weights, strict=True) if w > 0]
    members: list[Member] = []
    refitted = 0
    # the heaviest-weighted first: when time runs short, the refits that matter most are done
    for result, weight in sorted(chosen, key=lambda rw: -rw[1]):
        if result.released or (data.resampling.kind == "holdout"
                               and _refit_fits([(result, weight)], data, deadline)):
            members.append(_refit(result, weight, data, deadline))
            refitted += 1
            continue
        members += [Member(algorithm=m.algorithm, params=m.params, preprocessor=m.preprocessor,
                           estimator=m.estimator, weight=weight * m.weight)
                    for m in result.members]
    if data.resampling.kind == "cv":
        note = "members are the fold models (bagged)" + (
            f"; {refitted} of {len(chosen)} fitted once on all rows instead (their fold models "
            "were too large to keep)" if refitted else "")
    else:
        note = f"{refitted} of {len(chosen)} members refitted on all rows"
    model = TabularModel(task=data.task, features=feature_specs(data.schema, data.features),
                         members=members)
    return model, note


def _refit_fits(chosen: list[tuple[TrialResult, float]], data: SearchData,
                deadline: float | None) -> bool:
    return refits_fit([r for r, _ in chosen], data, deadline)


def refits_fit(results: Sequence[TrialResult], data: SearchData,
               deadline: float | None) -> bool:
    """Whether ``results`` can each be fitted once on all rows before ``deadline``: one of
    its validation fits (the mean of its folds'), scaled up to all rows, with a margin."""
    if deadline is None or not results:
        return True
    n_fits = len(data.resampling.folds)
    needed = (sum(r.refit_time_s / n_fits for r in results) / data.resampling.train_fraction
              * REFIT_MARGIN)
    return time.monotonic() + needed < deadline


def _refit(result: TrialResult, weight: float, data: SearchData,
           deadline: float | None) -> Member:
    algorithm = catalog.get(result.spec.algorithm)
    rows = np.arange(len(data.y))
    prepared = data.prepare(algorithm.preprocessing, rows, rows[:0])
    params: dict[str, Any] = dict(result.spec.params)
    estimator = configure(algorithm.build(params, data.task, data.seed), data, prepared)
    native = hasattr(estimator, "save_native")
    if native:
        estimator.set_rounds(max(result.best_iterations),
                             data_fraction=data.resampling.train_fraction)
        extra = network_options(estimator, data, algorithm.name, params, n_rows=len(rows),
                                seed=data.seed, stage="assembly")
        estimator.fit(prepared.train, data.y, stop_at=deadline, **extra)
    else:
        estimator.fit(prepared.train, data.y)
    if (data.task.kind.is_classification and not native
            and len(estimator.classes_) < len(data.task.classes)):
        estimator = catalog.AlignedClassifier(estimator, len(data.task.classes))
    return Member(algorithm=algorithm.name, params=params, preprocessor=prepared.preprocessor,
                  estimator=estimator, weight=weight)


def score_on_rows(model: TabularModel, data: SearchData, *, seed: int) -> float:
    """The model's score on (a sample of) its own training rows: with the validation score,
    the overfitting diagnosis."""
    rows = np.arange(len(data.y))
    networks = any(getattr(m.estimator, "reports_epochs", False) for m in model.members)
    limit = NETWORK_TRAIN_SCORE_ROWS if networks else TRAIN_SCORE_ROWS
    if len(rows) > limit:
        rows = np.sort(np.random.default_rng(seed).choice(rows, limit, replace=False))
    frame = data.frame.iloc[rows]
    if data.task.kind.is_classification:
        predicted = model.predict_proba(frame)
    else:
        predicted = model.predict(frame)
    return data.scorer.score(data.y[rows], np.asarray(predicted))
