"""Following a drifting stream: one model's pipeline fitted on nested windows of the newest
rows, blended with weights chosen on the newest rows held out.

Which past a stream's next rows resemble is not known in advance: on elec2 (prices that
move within days) a model of the last two days predicts tomorrow better than one of all
two years; on noaa_weather (seasons and a slow climate) all fifty years do best. So the
same pipeline (algorithm, parameters and preprocessing of the model being refreshed) is
fitted on the newest 128, 512, 2,048 … rows (each window four times the last) and on all
of them; greedy ensemble selection on the newest ``holdout`` rows, with every window ending
just before them, picks the blend's weights; the chosen windows are then fitted again,
ending at the newest row. Rows are in time order, oldest first.

A classifier's weights are chosen on log loss whatever the model's metric: a ranking metric
(roc_auc, the binary default) cannot see whether the probabilities sit on the right side of
the threshold the served answer uses, and a blend of windows is mostly a correction of just
that. Replaying elec2 through the platform with roc_auc as the judge scored 0.790 prequential
accuracy; with log loss, 0.798 (benchmarks/RESULTS.md, "The loop on real streams"). Regression
keeps its metric.

A boosting model's rounds were chosen for the rows it learned from (early stopping, then the
catalog's ``refit_rounds`` for the refit on all of them); a window of other rows gets the
rounds the same rule gives for its own rows, fewer for fewer rows and more for more, always
counted from the rounds and rows of the first version (``TreesFrom``, carried from update to
update) so that they do not compound. Every window refitted with the parent's rounds held
noaa_weather's window of all 18,000 days to the 43 trees chosen on its first 1,815
(benchmarks/RESULTS.md, "The loop on real streams", session s28).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone

from trainforge.algorithms.boosting import refit_rounds
from trainforge.algorithms.catalog import AlignedClassifier
from trainforge.algorithms.model import Member
from trainforge.data.task import Task
from trainforge.training.ensemble import greedy_selection
from trainforge.training.scoring import scorer_for
from trainforge.training.trial import categorical_outputs

SMALLEST_WINDOW = 128  # rows: fewer leave a tree model too little to split on
WINDOW_FACTOR = 4
# the newest rows the weights are chosen on: a week of elec2's half-hours, a year of
# noaa_weather's days; at most a fifth of the rows, so the windows that end before them
# still hold most of the past
HOLDOUT_ROWS = 336
MIN_ROWS = 2 * SMALLEST_WINDOW  # below this there is nothing to choose between


@dataclass(frozen=True)
class TreesFrom:
    """A boosting pipeline's rounds (``trees``) and the rows they were chosen for."""

    trees: int
    rows: int

    def for_rows(self, n_rows: int) -> int:
        """The rounds for a refit on ``n_rows`` rows, by the catalog's rule for a refit."""
        return refit_rounds(self.trees, data_fraction=self.rows / n_rows)


@dataclass(frozen=True)
class WindowBlend:
    """The refreshed members and how they were chosen: each window's size (rows; the last
    is all of them), its weight, and the holdout score (``metric``: log loss for a
    classifier, the task's metric for regression) of each window alone and of the blend,
    before the final fits. ``trees``: each window's boosting rounds (sizes' order), None
    when every window kept the template's own; ``trees_from``: what they were counted from."""

    members: list[Member]
    sizes: list[int]
    weights: list[float]
    holdout_rows: int
    holdout_scores: list[float]
    blend_score: float
    metric: str
    trees: list[int] | None = None
    trees_from: TreesFrom | None = None


def window_sizes(n_rows: int) -> list[int]:
    """128, 512, 2,048 … rows while fewer than ``n_rows``, then ``n_rows`` (all of them)."""
    sizes, size = [], SMALLEST_WINDOW
    while size < n_rows:
        sizes.append(size)
        size *= WINDOW_FACTOR
    return [*sizes, n_rows]


def holdout_size(n_rows: int) -> int:
    return min(HOLDOUT_ROWS, n_rows // 5)


def fit_on_rows(template: Member, frame: pd.DataFrame, y: np.ndarray, *, task: Task,
                weight: float = 1.0, trees: int | None = None) -> Member:
    """``template``'s pipeline (preprocessing and estimator, same settings; ``trees``
    boosting rounds instead of its own if given) fitted anew on these rows; the template is
    unchanged."""
    preprocessor = clone(template.preprocessor)
    matrix = preprocessor.fit_transform(frame, y)
    fitted = template.estimator
    estimator = clone(fitted.estimator if isinstance(fitted, AlignedClassifier) else fitted)
    if trees is not None:
        estimator.set_params(n_estimators=trees)
    if "categorical_features" in estimator.get_params():  # a window may lack a category
        estimator.set_params(categorical_features=categorical_outputs(preprocessor))
    estimator.fit(matrix, y)
    n_classes = len(task.classes) if task.kind.is_classification else 0
    if n_classes and not hasattr(estimator, "save_native") and len(estimator.classes_) < n_classes:
        # a short window may hold only some classes: answer zero for the others
        estimator = AlignedClassifier(estimator, n_classes)
    return Member(algorithm=template.algorithm, params=dict(template.params),
                  preprocessor=preprocessor, estimator=estimator, weight=weight)


def blend_windows(template: Member, frame: pd.DataFrame, y: np.ndarray, *, task: Task,
                  rounds: int = 10, trees_from: TreesFrom | None = None) -> WindowBlend:
    """Fit ``template``'s pipeline on nested windows of ``frame``'s newest rows (``y``: class
    codes or numbers, in the same order) and blend them; ValueError below ``MIN_ROWS``.
    ``trees_from``: each window's boosting rounds counted from these for its rows (None: the
    template's own for every window)."""
    if len(frame) < MIN_ROWS:
        raise ValueError(f"{len(frame)} rows: following a stream needs at least {MIN_ROWS}")
    scorer = scorer_for(judge(task), task.kind)
    held = holdout_size(len(frame))
    cut = len(frame) - held
    before = [size for size in window_sizes(cut) if _learnable(y[cut - size:cut], task)]
    outputs = [_output(fit_on_rows(template, frame.iloc[cut - size:cut], y[cut - size:cut],
                                   task=task, trees=_trees(trees_from, size)),
                       frame.iloc[cut:], task) for size in before]
    chosen, blend_score = greedy_selection(outputs, y[cut:], scorer, rounds=rounds)
    # the same windows, now ending at the newest row; "all" stays all
    sizes = [size for size in window_sizes(len(frame))
             if _learnable(y[len(frame) - size:], task)]
    weights = _carried(before, chosen, sizes)
    members = [fit_on_rows(template, frame.iloc[len(frame) - size:], y[len(frame) - size:],
                           task=task, weight=float(weight), trees=_trees(trees_from, size))
               for size, weight in zip(sizes, weights, strict=True) if weight > 0]
    return WindowBlend(members=members, sizes=sizes, weights=[float(w) for w in weights],
                       holdout_rows=held,
                       holdout_scores=[scorer.score(y[cut:], o) for o in outputs],
                       blend_score=float(blend_score), metric=scorer.name,
                       trees=None if trees_from is None else [trees_from.for_rows(size)
                                                             for size in sizes],
                       trees_from=trees_from)


def judge(task: Task) -> str:
    """The metric the windows' weights are chosen on (see the module's text)."""
    return "log_loss" if task.kind.is_classification else task.metric


def _trees(trees_from: TreesFrom | None, n_rows: int) -> int | None:
    return None if trees_from is None else trees_from.for_rows(n_rows)


def _learnable(y: np.ndarray, task: Task) -> bool:
    """A classifier's window must hold two classes (a newest window of one class is left
    out; "all" always holds them, as the whole table did)."""
    return not task.kind.is_classification or len(np.unique(y)) > 1


def _output(member: Member, frame: pd.DataFrame, task: Task) -> np.ndarray:
    matrix = member.preprocessor.transform(frame)
    if task.kind.is_classification:
        return np.asarray(member.estimator.predict_proba(matrix), dtype="float64")
    return np.asarray(member.estimator.predict(matrix), dtype="float64")


def _carried(before: Sequence[int], weights: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
    """The weights chosen for the windows ending before the holdout, onto the windows ending
    at the newest row: the same sizes keep theirs, "all" stays "all", and a size the holdout
    made possible (one more step of four) starts at nothing; one the newest rows made
    unlearnable (a single class) is dropped and the others share its weight."""
    carried = np.zeros(len(sizes))
    for size, weight in zip(before[:-1], weights[:-1], strict=True):
        if size in sizes[:-1]:
            carried[sizes.index(size)] = weight
    carried[-1] += weights[-1]
    if carried.sum() == 0:  # only dropped windows were chosen: fall back on all the rows
        carried[-1] = 1.0
    return np.asarray(carried / carried.sum())
