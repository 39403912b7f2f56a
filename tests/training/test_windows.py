"""Following a drifting stream: a pipeline refitted on nested windows of the newest rows,
blended by how each window does on the newest rows held out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from tests.training._tables import FEATURES, SCHEMA, table

from trainforge.algorithms import boosting
from trainforge.algorithms.model import Member
from trainforge.data.prepare import make_preprocessor
from trainforge.data.task import TaskKind
from trainforge.training.windows import TreesFrom, blend_windows, fit_on_rows, window_sizes


def _stream(n_old: int, n_new: int) -> tuple[pd.DataFrame, np.ndarray, object]:
    """The table's concept for ``n_old`` rows, then the opposite concept for ``n_new``."""
    frame, task = table(TaskKind.BINARY, n_rows=n_old + n_new, seed=3)
    codes = (frame["y"] == "yes").to_numpy().astype(int)
    codes[n_old:] = 1 - codes[n_old:]
    return frame[FEATURES], codes, task


def _template() -> Member:
    return Member(algorithm="lightgbm", params={},
                  preprocessor=make_preprocessor(SCHEMA, FEATURES, style="tree",
                                                 target_type="binary"),
                  estimator=boosting.LightGBMModel(n_estimators=30, n_threads=1, seed=0))


def test_windows_grow_fourfold_from_128_rows_and_end_with_all_of_them():
    assert window_sizes(3_000) == [128, 512, 2_048, 3_000]


def test_a_stream_too_short_to_choose_between_windows_is_refused_with_its_length():
    frame, codes, task = _stream(100, 100)
    with pytest.raises(ValueError, match="200 rows"):
        blend_windows(_template(), frame, codes, task=task)


def test_a_window_gets_more_boosting_rounds_the_more_rows_it_holds():
    # the parent's 30 rounds were chosen for 500 rows: a 128-row window gets fewer (the
    # catalog's refit rule, downwards), all 2,000 rows more, and every member is fitted so
    frame, codes, task = _stream(1_200, 800)
    blend = blend_windows(_template(), frame, codes, task=task,
                          trees_from=TreesFrom(trees=30, rows=500))
    fitted = {m.estimator.best_iteration_ for m in blend.members}
    assert blend.trees is not None
    assert (blend.sizes, blend.trees[0] < 30 < blend.trees[1] < blend.trees[2],
            fitted <= set(blend.trees)) == ([128, 512, 2_000], True, True)


def test_without_a_count_to_start_from_every_window_keeps_the_parents_rounds():
    frame, codes, task = _stream(1_200, 800)
    blend = blend_windows(_template(), frame, codes, task=task)
    assert (blend.trees, {m.estimator.best_iteration_ for m in blend.members}) == (None, {30})


def test_after_an_abrupt_change_the_blend_leans_on_the_newest_window():
    frame, codes, task = _stream(1_200, 800)
    blend = blend_windows(_template(), frame, codes, task=task)
    newest, everything = blend.weights[0], blend.weights[-1]
    assert (blend.sizes[0], newest > everything) == (128, True)


def test_the_blend_predicts_the_new_concept_better_than_one_model_of_all_rows():
    frame, codes, task = _stream(1_200, 800)
    future, future_codes, _ = _stream(0, 300)
    blend = blend_windows(_template(), frame, codes, task=task)
    total = sum(m.weight for m in blend.members)
    blended = sum(m.weight / total * m.estimator.predict_proba(m.preprocessor.transform(future))
                  for m in blend.members)
    whole = fit_on_rows(_template(), frame, codes, task=task)
    single = whole.estimator.predict_proba(whole.preprocessor.transform(future))
    accuracy = [float(((p[:, 1] > 0.5) == future_codes).mean()) for p in (blended, single)]
    assert accuracy[0] > accuracy[1] + 0.1


def test_a_classifiers_windows_are_weighed_on_log_loss_not_its_ranking_metric():
    frame, codes, task = _stream(1_200, 800)
    assert task.metric == "roc_auc"
    blend = blend_windows(_template(), frame, codes, task=task)
    assert (blend.metric, blend.blend_score <= min(blend.holdout_scores) + 1e-9) == (
        "log_loss", True)


def test_a_newest_window_of_one_class_is_left_out_of_the_blend():
    frame, codes, task = _stream(600, 0)
    codes[-200:] = 0
    blend = blend_windows(_template(), frame, codes, task=task)
    assert blend.sizes[0] == 512


def test_a_window_missing_a_class_still_answers_for_every_class():
    frame, task = table(TaskKind.MULTICLASS, n_rows=300, seed=3)
    codes = frame["y"].map({"a": 0, "b": 1, "c": 2}).to_numpy()
    window = np.flatnonzero(codes != 2)[-128:]
    template = Member(algorithm="linear", params={}, preprocessor=make_preprocessor(
        SCHEMA, FEATURES, style="linear", target_type="multiclass"),
        estimator=LogisticRegression())
    member = fit_on_rows(template, frame[FEATURES].iloc[window], codes[window], task=task)
    assert member.estimator.predict_proba(
        member.preprocessor.transform(frame[FEATURES])).shape == (300, 3)
