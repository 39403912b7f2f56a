"""Semi-supervised training: rows whose target is empty still teach the model.

- **Self-training** around the search's recipe: the model labels the unlabeled rows it is
  confident about (top probability ≥ ``CONFIDENCE``), the same recipe (algorithms, settings,
  weights) is fitted again on the labeled plus pseudo-labeled rows, and that repeats while new
  rows become confident (at most ``MAX_ROUNDS`` times).
- **Label spreading** (small tables): labels flow to the unlabeled rows over a k-nearest-
  neighbour graph of the prepared features (scikit-learn's ``LabelSpreading``).

Which one is kept (or the labeled-only model) is decided on a fifth of the labeled training
rows set aside for it, never on the test split: the test split then scores every method.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trainforge.algorithms.model import Member, TabularModel
from trainforge.data.dataset import Schema
from trainforge.data.prepare import make_preprocessor
from trainforge.data.task import Task
from trainforge.training.assembly import feature_specs
from trainforge.training.automl import SearchResult, _encode_target
from trainforge.training.refit import refit_on_all
from trainforge.training.scoring import scorer_for

CONFIDENCE = 0.9  # a pseudo-label needs this probability: wrong labels teach wrong lessons
MAX_ROUNDS = 3
SPREADING_MAX_ROWS = 5_000  # label spreading builds a k-NN graph over every row
MIN_UNLABELED = 20  # fewer unlabeled rows than this cannot change a model: not tried
SEMI_SUPERVISED_SEARCH_SHARE = 0.5  # of the budget; self-training refits the recipe a few times
LABELED_ONLY, SELF_TRAINING, SPREADING = "labeled only", "self-training", "label spreading"


@dataclass
class SemiSupervised:
    """What the semi-supervised phase found. ``model`` is the kept model fitted on all labeled
    training rows (plus its pseudo-labels); None when the labeled-only model was kept."""

    kept: str
    model: TabularModel | None
    n_unlabeled: int
    comparison: list[dict[str, Any]] = field(default_factory=list)  # one row per method


def worth_trying(task: Task, n_unlabeled: int) -> bool:
    return task.kind.is_classification and n_unlabeled >= MIN_UNLABELED


def semi_supervised(result: SearchResult, labeled: pd.DataFrame, unlabeled: pd.DataFrame, *,
                    task: Task, schema: Schema, features: Sequence[str], seed: int,
                    deadline: float | None) -> SemiSupervised:
    """Try self-training and label spreading against the labeled-only recipe; keep the best
    on a check split of ``labeled``, then fit the kept one on all of ``labeled``."""
    from sklearn.model_selection import train_test_split

    y = _encode_target(labeled[task.target], task)
    counts = np.bincount(y)
    fit_rows, check_rows = train_test_split(
        np.arange(len(labeled)), test_size=0.2, random_state=seed,
        stratify=y if counts[counts > 0].min() >= 2 else None)
    fit, check = labeled.iloc[np.sort(fit_rows)], labeled.iloc[np.sort(check_rows)]
    outcome = SemiSupervised(kept=LABELED_ONLY, model=None, n_unlabeled=len(unlabeled))
    base = refit_on_all(result, fit, task=task, schema=schema, features=features,
                        deadline=deadline, seed=seed)
    if base is None:
        outcome.comparison.append({"method": LABELED_ONLY, "note": "no time to compare"})
        return outcome
    scores = {LABELED_ONLY: _score(base, check, task)}
    outcome.comparison.append({"method": LABELED_ONLY, "check_score": scores[LABELED_ONLY],
                               "pseudo_labels": 0})
    trained, added, rounds = self_train(result, base, fit, unlabeled, task=task, schema=schema,
                                        features=features, seed=seed, deadline=deadline)
    if added:
        scores[SELF_TRAINING] = _score(trained, check, task)
        outcome.comparison.append({"method": SELF_TRAINING, "check_score": scores[SELF_TRAINING],
                                   "pseudo_labels": added, "rounds": rounds})
    if len(fit) + len(unlabeled) <= SPREADING_MAX_ROWS:
        spread = label_spreading(fit, unlabeled, task=task, schema=schema, features=features)
        scores[SPREADING] = _score(spread, check, task)
        outcome.comparison.append({"method": SPREADING, "check_score": scores[SPREADING],
                                   "pseudo_labels": len(unlabeled)})
    sign = 1.0 if scorer_for(task.metric, task.kind).greater_is_better else -1.0
    # a tie keeps the labeled-only model: pseudo-labels must earn their place
    kept = max(scores, key=lambda method: (sign * scores[method], method == LABELED_ONLY))
    if kept == LABELED_ONLY or _late(deadline):
        return outcome
    if kept == SELF_TRAINING:
        final, _, _ = self_train(result, result.model, labeled, unlabeled, task=task,
                                 schema=schema, features=features, seed=seed,
                                 deadline=deadline)
    else:
        final = label_spreading(labeled, unlabeled, task=task, schema=schema, features=features)
    outcome.kept, outcome.model = kept, final
    return outcome


def self_train(result: SearchResult, model: TabularModel, labeled: pd.DataFrame,
               unlabeled: pd.DataFrame, *, task: Task, schema: Schema,
               features: Sequence[str], seed: int, deadline: float | None
               ) -> tuple[TabularModel, int, int]:
    """``model`` after rounds of pseudo-labeling: (model, pseudo-labeled rows, rounds)."""
    pool, added = unlabeled, labeled.iloc[:0]
    rounds = 0
    for _ in range(MAX_ROUNDS):
        if pool.empty or _late(deadline):
            break
        proba = model.predict_proba(pool)
        confident = proba.max(axis=1) >= CONFIDENCE
        if not confident.any():
            break
        pseudo = pool.loc[confident].copy()
        pseudo[task.target] = np.asarray(task.classes, dtype=object)[proba[confident].argmax(1)]
        refit = refit_on_all(result, pd.concat([labeled, added, pseudo]), task=task,
                             schema=schema, features=features, deadline=deadline, seed=seed)
        if refit is None:
            break
        model, added, pool = refit, pd.concat([added, pseudo]), pool.loc[~confident]
        rounds += 1
    return model, len(added), rounds


def label_spreading(labeled: pd.DataFrame, unlabeled: pd.DataFrame, *, task: Task,
                    schema: Schema, features: Sequence[str]) -> TabularModel:
    """Labels spread over a 7-nearest-neighbour graph of labeled and unlabeled rows."""
    from trainforge.algorithms.label_spreading import SpreadLabels
    from trainforge.algorithms.model import coerce_frame

    specs = feature_specs(schema, features)
    rows = coerce_frame(pd.concat([labeled, unlabeled]), specs)
    codes = np.concatenate([_encode_target(labeled[task.target], task),
                            np.full(len(unlabeled), -1, dtype=np.int64)])
    target_type = "binary" if len(task.classes) == 2 else "multiclass"
    preprocessor = make_preprocessor(schema, features, style="linear",
                                     target_type=target_type)  # type: ignore[arg-type]
    known = codes >= 0
    preprocessor.fit(rows.iloc[np.flatnonzero(known)], codes[known])
    estimator = SpreadLabels(kernel="knn", n_neighbors=7, max_iter=100)
    estimator.fit(preprocessor.transform(rows), codes)
    member = Member(algorithm="label_spreading", params={"kernel": "knn", "n_neighbors": 7},
                    preprocessor=preprocessor, estimator=estimator)
    return TabularModel(task=task, features=specs, members=[member])


def _score(model: TabularModel, frame: pd.DataFrame, task: Task) -> float:
    """The task's metric on ``frame``, as users read it."""
    return scorer_for(task.metric, task.kind).score(_encode_target(frame[task.target], task),
                                                    model.predict_proba(frame))


def _late(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline
