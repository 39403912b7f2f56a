"""Semi-supervised training: rows whose target is empty still teach the model.

Methods compared against the search's recipe fitted on the labeled rows alone:

- **Unlabeled text vocabulary** (when a feature is text): the same recipe, its TF-IDF
  vocabulary and word rarities learned from labeled and unlabeled texts.
- **Self-training** (see ``self_training``): the recipe labels a growing share of the
  unlabeled rows, per class in the labeled proportions, and is fitted again; 1 to 3 rounds.
- **Label spreading** (small tables): labels flow over a k-nearest-neighbour graph of the
  prepared features (scikit-learn's ``LabelSpreading``).

The choice is made by stratified k-fold cross-validation over ALL the labeled training rows
(repeated while time allows), every method fitted on the same folds with the same unlabeled
rows: with 5 % of labels, one held-out fifth is a few dozen rows and cannot show a gain (it
kept labeled-only on every benchmark). The test split is never seen. A tie keeps the
labeled-only model: pseudo-labels must earn their place. When the search's blend is too slow
to fit in every fold and round, the methods that refit use a quicker "student" recipe
(``student_recipe``), and labeled-only is then scored as the student alone. "Too slow" is
judged on one timed refit of the blend on the labeled rows (``timed_recipe``), not on the
search's estimate alone: on telco churn that estimate was ten times too pessimistic.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trainforge.algorithms import catalog
from trainforge.algorithms.model import Member, TabularModel, coerce_frame, feature_specs
from trainforge.data.dataset import Schema
from trainforge.data.prepare import make_preprocessor
from trainforge.data.task import Task
from trainforge.training.automl import SearchResult, _encode_target
from trainforge.training.refit import refit_estimate_s
from trainforge.training.scoring import scorer_for
from trainforge.training.self_training import (
    ROUND_SHARES,
    fit_recipe,
    has_text,
    late,
    self_train,
    self_training_cost_s,
    student_recipe,
)

CV_FOLDS = 5
MAX_REPEATS = 3  # the k folds again, reshuffled, while time allows: a steadier estimate
# label spreading builds a k-NN graph over every row; measured on 2 cores, one fit on 10,000
# rows took 0.4 s with 36 numeric features and 4.6 s with TF-IDF text (5,000: 1.2 s; it
# grows with the square of the rows on sparse text)
SPREADING_MAX_ROWS = 10_000
MIN_UNLABELED = 20  # fewer unlabeled rows than this cannot change a model: not tried
# of the budget: each fold fits several methods; the search on a few labeled rows needs less
SEMI_SUPERVISED_SEARCH_SHARE = 0.35
# the kept method is fitted twice after the folds (on the training rows for the test split,
# then on every labeled row)
FINAL_FITS = 2
LABELED_ONLY, VOCABULARY = "labeled only", "unlabeled text vocabulary"
SELF_TRAINING, SPREADING = "self-training", "label spreading"

Candidate = tuple[str, int]  # (method, self-training rounds; 0 for the others)


@dataclass
class SemiSupervised:
    """What the semi-supervised phase found. ``model`` is the kept method fitted on the
    labeled training rows and the unlabeled rows; None when labeled-only was kept."""

    kept: str
    model: TabularModel | None
    n_unlabeled: int
    rounds: int = 0  # the self-training rounds of the kept method
    recipe: SearchResult | None = None  # what the kept method fits (see student_recipe)
    fit_s: float = 0.0  # what fitting the kept method took: a refit on all rows takes as long
    comparison: list[dict[str, Any]] = field(default_factory=list)  # one row per method
    chosen_on: str = "no cross-validation (no time)"


def worth_trying(task: Task, n_unlabeled: int) -> bool:
    return task.kind.is_classification and n_unlabeled >= MIN_UNLABELED


def semi_supervised(result: SearchResult, labeled: pd.DataFrame, unlabeled: pd.DataFrame, *,
                    task: Task, schema: Schema, features: Sequence[str], seed: int,
                    deadline: float | None) -> SemiSupervised:
    """Cross-validate every method against labeled-only on ``labeled``; fit the best one on
    ``labeled`` plus ``unlabeled`` (``model``), unless labeled-only is as good."""
    outcome = SemiSupervised(kept=LABELED_ONLY, model=None, n_unlabeled=len(unlabeled))
    if deadline is not None:
        result = timed_recipe(result, labeled, unlabeled, task=task, schema=schema,
                              features=features, seed=seed, deadline=deadline)
    # each fold self-trains once, and the kept method is fitted twice more
    seconds = (None if deadline is None else
               (deadline - time.monotonic()) / (CV_FOLDS + FINAL_FITS))
    student = student_recipe(result, n_rows=len(labeled), n_unlabeled=len(unlabeled),
                             seconds=seconds)
    sign = 1.0 if scorer_for(task.metric, task.kind).greater_is_better else -1.0
    baseline = result
    if (seconds is not None and student is not result
            and refit_estimate_s(result.chosen, n_rows=len(labeled)) > seconds / 2):
        # the blend is too slow to fit in every fold (a network): labeled-only is scored as
        # the student's labeled-only folds. Adding the blend's lead in the search's own
        # validation was tried: on 230 SMS texts that holdout (46 rows, the blend chosen on
        # it) claimed +0.044 roc_auc, a labeled-only estimate of 1.008
        baseline = student
    folds = _cross_validate(baseline, student, labeled, unlabeled, task=task, schema=schema,
                            features=features, seed=seed, deadline=deadline)
    if not folds:
        outcome.comparison.append({"method": LABELED_ONLY, "note": "no time to compare"})
        return outcome
    outcome.chosen_on = (f"{len(folds)} cross-validation folds of the {len(labeled):,} "
                         "labeled training rows (not the test split)")
    means = {c: float(np.mean([fold[c] for fold in folds])) for c in folds[0]}
    kept = max(means, key=lambda c: (sign * means[c], c[0] == LABELED_ONLY, c[1]))
    outcome.comparison = _comparison_rows(folds, means, sign=sign, n_unlabeled=len(unlabeled),
                                          student=student)
    if baseline is not result:
        outcome.comparison[0]["note"] = ("the search's blend, too slow for every fold, "
                                         f"scored as {student.chosen[0].spec.algorithm} alone")
    if kept[0] == LABELED_ONLY or late(deadline):
        return outcome
    started = time.monotonic()
    model = fit_method(kept, student, labeled, unlabeled, task=task, schema=schema,
                       features=features, seed=seed, deadline=deadline)
    if model is not None:
        outcome.kept, outcome.rounds, outcome.model = kept[0], kept[1], model
        outcome.recipe, outcome.fit_s = student, time.monotonic() - started
    return outcome


def timed_recipe(result: SearchResult, labeled: pd.DataFrame, unlabeled: pd.DataFrame, *,
                 task: Task, schema: Schema, features: Sequence[str], seed: int,
                 deadline: float) -> SearchResult:
    """``result`` with its members' fit times rescaled so that the refit estimate matches one
    timed refit of the blend: self-training's first round, on ``labeled`` plus the first
    share of ``unlabeled`` (labeled by the search's model). Unchanged when its estimate
    already fits every fold and round, when it holds a network (minutes per fit: never the
    student) or when that refit does not finish.

    The estimate scales validation fits by rows and boosting rounds, with a margin for fits
    that cannot stop themselves: on telco churn (287 labeled rows) it put the blend's refit
    on 5,634 rows at ~100 s while 15 folds of a linear student took 15 s, so the linear
    student was used and lost to the blend. The first round is timed rather than the labeled
    rows alone: a fit on 230 rows is mostly fixed costs, and scaling it 24-fold by rows to
    the last round's size was still 5x too slow (forest + linear on telco: 0.5 s measured,
    10.5 s extrapolated); from the first round it is 3.6-fold.
    """
    seconds = (deadline - time.monotonic()) / (CV_FOLDS + FINAL_FITS)
    if (not result.chosen
            or any(catalog.get(c.spec.algorithm).family == "network" for c in result.chosen)
            or self_training_cost_s(result.chosen, n_rows=len(labeled),
                                    n_unlabeled=len(unlabeled)) <= seconds):
        return result
    started = time.monotonic()
    trained = self_train(result, result.model, labeled, unlabeled, task=task, schema=schema,
                         features=features, seed=seed, deadline=deadline, rounds=1)
    measured = time.monotonic() - started
    if not trained:
        return result
    estimated = refit_estimate_s(result.chosen, n_rows=len(labeled) + trained[0][1])
    # the ratio is put on the members, the part of the estimate that scales by rows
    ratio = measured / estimated
    return dataclasses.replace(result, chosen=[
        dataclasses.replace(c, fit_time_s=c.fit_time_s * ratio) for c in result.chosen])


def fit_method(candidate: Candidate, recipe: SearchResult, labeled: pd.DataFrame,
               unlabeled: pd.DataFrame, *, task: Task, schema: Schema,
               features: Sequence[str], seed: int, deadline: float | None
               ) -> TabularModel | None:
    """One method, with ``recipe``, fitted on ``labeled`` and ``unlabeled``; None when out of
    time."""
    method, rounds = candidate
    if method == SPREADING:
        return label_spreading(labeled, unlabeled, task=task, schema=schema, features=features)
    vocabulary = None if method == LABELED_ONLY else unlabeled
    model = fit_recipe(recipe, labeled, vocabulary=vocabulary, task=task, schema=schema,
                       features=features, seed=seed, deadline=deadline)
    if method != SELF_TRAINING or model is None:
        return model
    trained = self_train(recipe, model, labeled, unlabeled, task=task, schema=schema,
                         features=features, seed=seed, deadline=deadline, rounds=rounds)
    return trained[-1][0] if len(trained) == rounds else None


def _cross_validate(result: SearchResult, student: SearchResult, labeled: pd.DataFrame,
                    unlabeled: pd.DataFrame, *,
                    task: Task, schema: Schema, features: Sequence[str], seed: int,
                    deadline: float | None) -> list[dict[Candidate, float]]:
    """Each completed fold's score of every candidate. Folds stop when the next one and the
    final fits would not fit before ``deadline``; with no deadline, one round of k folds."""
    from sklearn.model_selection import StratifiedKFold

    y = _encode_target(labeled[task.target], task)
    n_folds = min(CV_FOLDS, int(np.bincount(y)[np.bincount(y) > 0].min()))
    if n_folds < 2:
        return []
    folds: list[dict[Candidate, float]] = []
    slowest_fold, slowest_method = 0.0, 0.0
    for repeat in range(MAX_REPEATS if deadline is not None else 1):
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed + repeat)
        for fit_rows, check_rows in splitter.split(np.zeros(len(y)), y):
            # the kept method is then fitted twice more (for the test split, then on all rows)
            if deadline is not None and time.monotonic() + slowest_fold + (
                    FINAL_FITS * slowest_method) > deadline:
                return folds if len(folds) >= 2 else []
            started = time.monotonic()
            scored = _score_fold(result, student, labeled.iloc[fit_rows],
                                 labeled.iloc[check_rows], unlabeled, task=task,
                                 schema=schema, features=features, seed=seed,
                                 deadline=deadline)
            if scored is None:
                return folds if len(folds) >= 2 else []
            folds.append(scored[0])
            slowest_fold = max(slowest_fold, time.monotonic() - started)
            slowest_method = max(slowest_method, scored[1])
    return folds


def _score_fold(result: SearchResult, student: SearchResult, fit: pd.DataFrame,
                check: pd.DataFrame, unlabeled: pd.DataFrame, *, task: Task, schema: Schema,
                features: Sequence[str], seed: int, deadline: float | None
                ) -> tuple[dict[Candidate, float], float] | None:
    """Every candidate fitted on ``fit`` (+ ``unlabeled``), scored on ``check``, and the
    seconds the slowest method took; None when a fit ran out of time (a fold counts only
    whole)."""
    base = fit_recipe(result, fit, vocabulary=None, task=task, schema=schema,
                      features=features, seed=seed, deadline=deadline)
    if base is None:
        return None
    scores = {(LABELED_ONLY, 0): _score(base, check, task)}
    # the student teaches the first round: with the unlabeled texts' words when there is text
    started = time.monotonic()
    teacher = base if student is result and not has_text(schema, features) else fit_recipe(
        student, fit, vocabulary=unlabeled, task=task, schema=schema, features=features,
        seed=seed, deadline=deadline)
    if teacher is None:
        return None
    if has_text(schema, features):
        scores[(VOCABULARY, 0)] = _score(teacher, check, task)
    trained = self_train(student, teacher, fit, unlabeled, task=task, schema=schema,
                         features=features, seed=seed, deadline=deadline)
    if len(trained) < len(ROUND_SHARES):
        return None
    slowest = time.monotonic() - started
    for rounds, (model, _) in enumerate(trained, start=1):
        scores[(SELF_TRAINING, rounds)] = _score(model, check, task)
    if len(fit) + len(unlabeled) <= SPREADING_MAX_ROWS:
        started = time.monotonic()
        spread = label_spreading(fit, unlabeled, task=task, schema=schema, features=features)
        scores[(SPREADING, 0)] = _score(spread, check, task)
        slowest = max(slowest, time.monotonic() - started)
    return scores, slowest


def _comparison_rows(folds: list[dict[Candidate, float]], means: dict[Candidate, float], *,
                     sign: float, n_unlabeled: int, student: SearchResult
                     ) -> list[dict[str, Any]]:
    """One row per method (self-training at its best number of rounds), in the fold order."""
    rows: list[dict[str, Any]] = []
    for method in dict.fromkeys(c[0] for c in means):
        options = [c for c in means if c[0] == method]
        # a tie goes to more rounds: the last labels every unlabeled row in the labeled
        # class proportions, so its predicted class rates match them; on SMS spam, roc_auc
        # tied (46-row folds) while F1 went 0.85, 0.88, 0.92 over rounds 1-3
        best = max(options, key=lambda c: (sign * means[c], c[1]))
        row: dict[str, Any] = {"method": method, "check_score": means[best],
                               "check_std": float(np.std([fold[best] for fold in folds]))}
        if method in (VOCABULARY, SELF_TRAINING):
            row["recipe"] = " + ".join(c.spec.algorithm for c in student.chosen)
        if method == SELF_TRAINING:
            row["rounds"] = best[1]
            row["pseudo_labels"] = round(ROUND_SHARES[best[1] - 1] * n_unlabeled)
            row["check_score_by_rounds"] = [means[c] for c in sorted(options)]
        elif method == SPREADING:
            row["pseudo_labels"] = n_unlabeled
        rows.append(row)
    return rows


def label_spreading(labeled: pd.DataFrame, unlabeled: pd.DataFrame, *, task: Task,
                    schema: Schema, features: Sequence[str]) -> TabularModel:
    """Labels spread over a 7-nearest-neighbour graph of labeled and unlabeled rows."""
    from trainforge.algorithms.label_spreading import SpreadLabels

    specs = feature_specs(schema, features)
    rows = coerce_frame(pd.concat([labeled, unlabeled]), specs)
    codes = np.concatenate([_encode_target(labeled[task.target], task),
                            np.full(len(unlabeled), -1, dtype=np.int64)])
    target_type = "binary" if len(task.classes) == 2 else "multiclass"
    preprocessor = make_preprocessor(schema, features, style="linear",
                                     target_type=target_type)  # type: ignore[arg-type]
    known = codes >= 0
    preprocessor.fit(rows.iloc[np.flatnonzero(known)], codes[known],
                     vocabulary=rows.iloc[np.flatnonzero(~known)])
    estimator = SpreadLabels(kernel="knn", n_neighbors=7, max_iter=100)
    estimator.fit(preprocessor.transform(rows), codes)
    member = Member(algorithm="label_spreading", params={"kernel": "knn", "n_neighbors": 7},
                    preprocessor=preprocessor, estimator=estimator)
    return TabularModel(task=task, features=specs, members=[member])


def _score(model: TabularModel, frame: pd.DataFrame, task: Task) -> float:
    """The task's metric on ``frame``, as users read it."""
    return scorer_for(task.metric, task.kind).score(_encode_target(frame[task.target], task),
                                                    model.predict_proba(frame))
