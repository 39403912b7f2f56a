"""Refit the chosen blend on every labelled row, once the test rows have been used to evaluate.

A search learns from the rows left after the test split (and, inside it, from fold-sized
parts of them). Once the honest evaluation is written, ``refit_on_all`` fits the SAME recipe
— algorithms, hyperparameters, blend weights, preprocessing style and boosting rounds (the
rounds early stopping kept, scaled up a little for the extra rows) — on all labelled rows.
Nothing is selected on the test rows: the recipe is fixed before they are seen.

Each chosen candidate becomes one model fitted on all rows rather than a new bag of fold
models: k times cheaper, and the rows a fold model never saw are the point of the refit.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from trainforge.algorithms import catalog
from trainforge.algorithms.boosting import refit_rounds
from trainforge.algorithms.model import Member, TabularModel
from trainforge.data.dataset import Schema
from trainforge.data.task import Task
from trainforge.errors import ConfigError
from trainforge.training.assembly import Chosen
from trainforge.training.automl import SearchResult, _prepare
from trainforge.training.trial import PreparedFold, SearchData, configure, network_options

SETUP_S = 0.2  # preparing the table and each preprocessing style, on a small table
# a fit that cannot be stopped (forests, networks that early-stop on their own split) may run
# well past its fold's time on more rows: a network ran 10 s where its folds took ~4 s
UNSTOPPABLE_MARGIN = 2.5


def refit_on_all(result: SearchResult, frame: pd.DataFrame, *, task: Task, schema: Schema,
                 features: Sequence[str], deadline: float | None,
                 seed: int = 0, bag: bool = False) -> TabularModel | None:
    """``result``'s blend fitted again on ``frame`` (all labelled rows, target cleaned as for
    the search); None when it could not finish by ``deadline`` (a ``time.monotonic()`` value)
    — the caller then keeps the evaluated model. With ``deadline`` None it always refits.
    ``bag``: fit each candidate on every fold of all rows (a bag, k times the cost) instead
    of once on all rows.
    Also None when the search kept no recipe or trained a candidate on a memory-bound sample
    (all rows would not fit in memory either)."""
    if not result.chosen or any(c.sample_fraction < 1.0 for c in result.chosen):
        return None
    if list(features) != [f.name for f in result.model.features]:
        raise ConfigError("refit_on_all needs the features the search used, in its order "
                          f"({', '.join(f.name for f in result.model.features)})")
    data, _ = _prepare(frame, task=task, schema=schema, features=features, seed=seed,
                       algorithm="auto")
    rows = np.arange(len(data.y))
    parts = ([train for train, _ in data.resampling.folds] if bag else [rows])
    estimate = sum(refit_estimate_s(result.chosen, n_rows=len(p)) for p in parts)
    if deadline is not None and time.monotonic() + estimate > deadline:
        return None
    members: list[Member] = []
    for index, part in enumerate(parts):
        prepared: dict[str, PreparedFold] = {}
        # the heaviest-weighted first, as the blend was assembled
        for chosen in sorted(result.chosen, key=lambda c: -c.weight):
            member = _fit_all(chosen, data, part, prepared, deadline=deadline,
                              seed=data.seed + index)
            if member is None:
                return None
            member.weight /= len(parts)
            members.append(member)
    return TabularModel(task=result.model.task, features=list(result.model.features),
                        members=members)


def refit_estimate_s(chosen: Sequence[Chosen], *, n_rows: int) -> float:
    """Seconds a refit of ``chosen`` on ``n_rows`` rows is expected to take (with a margin):
    each candidate's mean validation fit, scaled by the rows and the extra boosting rounds."""
    total = SETUP_S
    for c in chosen:
        per_fit = c.fit_time_s / max(1, c.n_fits)
        rows = n_rows / max(1, c.fit_rows)
        rounds = 1.0
        if any(c.best_iterations):
            mean = float(np.mean(c.best_iterations))
            rounds = refit_rounds(_rounds(c), data_fraction=c.fit_rows / n_rows) / max(1.0, mean)
        # boosting stops itself at the deadline (the refit then gives up), so its estimate
        # needs no margin: measured, a boosting refit took 0.4-0.8 of its fold-based estimate
        margin = 1.0 if any(c.best_iterations) else UNSTOPPABLE_MARGIN
        total += per_fit * rows * rounds * margin
    return total


def _rounds(chosen: Chosen) -> int:
    return max(1, round(float(np.mean(chosen.best_iterations))))


def _fit_all(chosen: Chosen, data: SearchData, rows: np.ndarray,
             prepared: dict[str, PreparedFold], *, deadline: float | None,
             seed: int) -> Member | None:
    algorithm = catalog.get(chosen.spec.algorithm)
    if deadline is not None and time.monotonic() + refit_estimate_s(
            [chosen], n_rows=len(rows)) - SETUP_S > deadline:
        return None  # checked again before each fit: the table may be slower than planned
    if algorithm.preprocessing not in prepared:
        prepared[algorithm.preprocessing] = data.prepare(algorithm.preprocessing, rows, rows[:0])
    fold = prepared[algorithm.preprocessing]
    params = dict(chosen.spec.params)
    estimator = configure(algorithm.build(params, data.task, seed), data, fold)
    native = hasattr(estimator, "save_native")
    if native:
        estimator.set_rounds(_rounds(chosen), data_fraction=chosen.fit_rows / len(rows))
        extra = network_options(estimator, data, algorithm.name, params, n_rows=len(rows),
                                seed=seed, stage="refit")
        estimator.fit(fold.train, data.y[rows], stop_at=deadline, **extra)
        if estimator.stopped_by_time_:
            return None  # fewer rounds than the recipe: not the model that was evaluated
    else:
        estimator.fit(fold.train, data.y[rows])
        if deadline is not None and time.monotonic() > deadline:
            return None
    if (data.task.kind.is_classification and not native
            and len(estimator.classes_) < len(data.task.classes)):
        estimator = catalog.AlignedClassifier(estimator, len(data.task.classes))
    return Member(algorithm=algorithm.name, params=params, preprocessor=fold.preprocessor,
                  estimator=estimator, weight=chosen.weight)
