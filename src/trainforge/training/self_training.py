"""Self-training: the search's recipe labels the unlabeled rows, and learns from its own labels.

Each round the latest model predicts every unlabeled row, and a growing share of them
(``ROUND_SHARES``) is admitted with its predicted class: per class, the rows the model is most
sure belong to it, in the labeled rows' class proportions. A confidence threshold alone lets
the majority class flood the set (on churn data, 0.9 admitted mostly "no churn" rows and the
model got worse); quotas keep the class balance the labels show. The recipe (algorithms,
settings, weights) is then fitted again, from scratch, on the labeled plus admitted rows, so a
row labeled wrongly early can be labeled again later. Every round's model is returned: how
many rounds help is decided by cross-validation, not fixed here.

Text columns learn their TF-IDF vocabulary from the labeled and the unlabeled rows (words
need no label), which ``fit_recipe`` does for every method that fits the recipe.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from trainforge.algorithms import catalog
from trainforge.algorithms.model import Member, TabularModel, coerce_frame, feature_specs
from trainforge.data.dataset import ColumnKind, Schema
from trainforge.data.prepare import make_preprocessor
from trainforge.data.task import Task
from trainforge.training.assembly import Chosen
from trainforge.training.automl import SearchResult, _encode_target, _prepare
from trainforge.training.refit import _fit_all, refit_estimate_s, refit_on_all
from trainforge.training.scoring import scorer_for
from trainforge.training.trial import (
    CandidateSpec,
    PreparedFold,
    SearchData,
    categorical_outputs,
)

# the share of the unlabeled rows admitted after each round: a curriculum, surest rows first
ROUND_SHARES = (0.25, 0.5, 1.0)


def admit_pseudo_labels(proba: np.ndarray, *, share: float,
                        class_shares: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Which rows of ``proba`` (unlabeled rows × classes) get a pseudo-label, and which class:
    ``share`` of the rows in all, split over the classes in ``class_shares``; each class
    takes the rows with the highest probability of it (that no class before took).

    Example:
        >>> proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7]])
        >>> rows, codes = admit_pseudo_labels(proba, share=0.5, class_shares=[0.5, 0.5])
        >>> rows.tolist(), codes.tolist()
        ([0, 3], [0, 1])
    """
    n_admitted = round(share * len(proba))
    taken = np.zeros(len(proba), dtype=bool)
    rows, codes = [], []
    for code, class_share in enumerate(class_shares):
        quota = int(np.floor(n_admitted * class_share + 1e-9))
        # ranked by the class's probability, not by the model's argmax: a model trained on
        # few rows of a rare class seldom predicts it (on 120 SMS texts, never), yet ranks
        # its rows first
        free = np.flatnonzero(~taken)
        surest = free[np.argsort(-proba[free, code], kind="stable")][:quota]
        taken[surest] = True
        rows.append(surest)
        codes.append(np.full(len(surest), code, dtype=np.int64))
    order = np.argsort(np.concatenate(rows), kind="stable")
    return np.concatenate(rows)[order], np.concatenate(codes)[order]


def self_train(result: SearchResult, model: TabularModel, labeled: pd.DataFrame,
               unlabeled: pd.DataFrame, *, task: Task, schema: Schema,
               features: Sequence[str], seed: int, deadline: float | None,
               rounds: int = len(ROUND_SHARES)) -> list[tuple[TabularModel, int]]:
    """``model`` (fitted on ``labeled``) taught by its own labels for up to ``rounds``
    rounds: each round's (model, pseudo-labeled rows). Shorter when time runs out."""
    codes = _encode_target(labeled[task.target], task)
    class_shares = (np.bincount(codes, minlength=len(task.classes)) / len(codes)).tolist()
    names = np.asarray(task.classes, dtype=object)
    trained: list[tuple[TabularModel, int]] = []
    for share in ROUND_SHARES[:rounds]:
        if late(deadline):
            break
        rows, pseudo_codes = admit_pseudo_labels(model.predict_proba(unlabeled), share=share,
                                                 class_shares=class_shares)
        pseudo = unlabeled.iloc[rows].copy()
        pseudo[task.target] = names[pseudo_codes]
        refit = fit_recipe(result, pd.concat([labeled, pseudo]), vocabulary=unlabeled,
                           task=task, schema=schema, features=features, seed=seed,
                           deadline=deadline)
        if refit is None:
            break
        model = refit
        trained.append((model, len(rows)))
    return trained


def student_recipe(result: SearchResult, *, n_rows: int, n_unlabeled: int,
                   seconds: float | None) -> SearchResult:
    """The recipe the semi-supervised methods fit again and again (every fold, every round,
    on up to all unlabeled rows): the search's blend when that fits in ``seconds`` (None: no
    limit, but never a network, minutes per fit), else the first of its members, then of the
    leaderboard's quick candidates (linear models, trees, neighbours), that does; if none
    does, the quickest. On 230 SMS
    texts a GRU blend's refit on the unlabeled rows was estimated at half an hour; on telco
    churn a forest's at 100 s. ``n_rows``: the labeled rows."""
    options = [result.chosen, *([dataclasses.replace(c, weight=1.0)] for c in
                                sorted(result.chosen, key=lambda c: -c.weight))]
    options += [[c] for c in _quick_candidates(result, n_rows=n_rows)]
    options = [o for o in options
               if not any(catalog.get(c.spec.algorithm).family == "network" for c in o)]
    if not options:
        return result
    cost = {id(o): self_training_cost_s(o, n_rows=n_rows, n_unlabeled=n_unlabeled)
            for o in options}
    fitting = [o for o in options if seconds is None or cost[id(o)] <= seconds]
    # none in time: the quickest, which the folds then cut short if it must
    chosen = fitting[0] if fitting else min(options, key=lambda o: cost[id(o)])
    return result if chosen is result.chosen else dataclasses.replace(result, chosen=chosen)


def self_training_cost_s(chosen: Sequence[Chosen], *, n_rows: int, n_unlabeled: int) -> float:
    """Seconds one self-training of ``chosen`` is expected to take (all rounds)."""
    return sum(refit_estimate_s(chosen, n_rows=n_rows + round(share * n_unlabeled))
               for share in ROUND_SHARES)


def _quick_candidates(result: SearchResult, *, n_rows: int) -> list[Chosen]:
    """The leaderboard's finished candidates that refit in one call (no boosting rounds, no
    network), best first, as the refit needs them."""
    quick = [c for c in result.leaderboard
             if c.status == "ok" and c.score is not None and c.algorithm in catalog.names()
             and catalog.get(c.algorithm).family not in ("network", "boosting")]
    sign = 1.0 if scorer_for(result.metric, result.model.task.kind).greater_is_better else -1.0
    n_fits = result.chosen[0].n_fits if result.chosen else 1  # every trial had the same folds
    return [Chosen(spec=CandidateSpec(c.algorithm, dict(c.params)), weight=1.0,
                   best_iterations=[0], fit_time_s=c.fit_time_s, n_fits=n_fits,
                   fit_rows=max(1, round(0.8 * n_rows)))
            for c in sorted(quick, key=lambda c: -sign * (c.score or 0.0))]


def fit_recipe(result: SearchResult, frame: pd.DataFrame, *, vocabulary: pd.DataFrame | None,
               task: Task, schema: Schema, features: Sequence[str], seed: int,
               deadline: float | None) -> TabularModel | None:
    """``result``'s recipe fitted on ``frame`` (as ``refit_on_all``), with the text columns'
    TF-IDF also fitted on ``vocabulary`` (unlabeled rows); None when it could not finish by
    ``deadline``."""
    if vocabulary is None or not has_text(schema, features):
        return refit_on_all(result, frame, task=task, schema=schema, features=features,
                            deadline=deadline, seed=seed)
    if not result.chosen or any(c.sample_fraction < 1.0 for c in result.chosen):
        return None
    data, _ = _prepare(frame, task=task, schema=schema, features=features, seed=seed,
                       algorithm="auto")
    rows = np.arange(len(data.y))
    if deadline is not None and time.monotonic() + refit_estimate_s(
            result.chosen, n_rows=len(rows)) > deadline:
        return None
    words = coerce_frame(vocabulary, feature_specs(schema, features))
    # fitted here, with the vocabulary, so that _fit_all finds each style already prepared
    prepared: dict[str, PreparedFold] = {style: _prepare_style(data, style, rows, words)
                for style in {catalog.get(c.spec.algorithm).preprocessing for c in result.chosen}
                if style in ("linear", "tree")}
    members: list[Member] = []
    for chosen in sorted(result.chosen, key=lambda c: -c.weight):
        member = _fit_all(chosen, data, rows, prepared, deadline=deadline, seed=data.seed)
        if member is None:
            return None
        members.append(member)
    return TabularModel(task=result.model.task, features=list(result.model.features),
                        members=members)


def has_text(schema: Schema, features: Sequence[str]) -> bool:
    return any(ColumnKind(schema[name]) is ColumnKind.TEXT for name in features)


def late(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _prepare_style(data: SearchData, style: str, rows: np.ndarray,
                   vocabulary: pd.DataFrame) -> PreparedFold:
    preprocessor = make_preprocessor(data.schema, data.features, style=style,  # type: ignore[arg-type]
                                     target_type="binary" if data.n_classes == 2 else "multiclass")
    train = preprocessor.fit_transform(data.frame.iloc[rows], data.y[rows],
                                       vocabulary=vocabulary)
    return PreparedFold(preprocessor, train, None, categorical_outputs(preprocessor))
