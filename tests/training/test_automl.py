"""search(): from a cleaned table to a fitted, ranked and blended model."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from tests.training._tables import SCHEMA, table

from trainforge.data.task import Task, TaskKind
from trainforge.errors import (
    BudgetTooSmall,
    ColumnNotFound,
    NoTrialSucceeded,
    UnknownAlgorithm,
    UnusableTarget,
)
from trainforge.training import trial as trial_module
from trainforge.training.automl import search


def _search(kind: TaskKind = TaskKind.BINARY, **options: Any) -> Any:
    frame, task = table(kind)
    settings: dict[str, Any] = {"deadline": None, "trials": 3, "seed": 0}
    settings.update(options)
    return frame, search(frame, task=task, schema=SCHEMA, features=["x1", "x2", "colour"],
                         **settings)


@pytest.mark.slow
def test_a_search_with_a_trial_count_returns_a_model_that_predicts_every_row():
    frame, result = _search(TaskKind.BINARY)
    proba = result.model.predict_proba(frame)
    assert proba.shape == (len(frame), 2)
    assert set(result.model.predict(frame)) <= {"no", "yes"}
    assert result.n_trials == 3 and result.validation_score > 0.8


@pytest.mark.slow
def test_the_same_seed_and_trial_count_give_the_same_predictions():
    # trials past the portfolio's entry are Optuna's: its sampling is seeded too
    frame, first = _search(TaskKind.MULTICLASS, algorithm="linear", trials=4)
    _, second = _search(TaskKind.MULTICLASS, algorithm="linear", trials=4)
    np.testing.assert_allclose(first.model.predict_proba(frame),
                               second.model.predict_proba(frame), rtol=1e-12, atol=1e-12)


def test_a_regression_search_reports_r2_for_training_and_validation():
    _, result = _search(TaskKind.REGRESSION, trials=2)
    assert result.metric == "r2"
    assert result.train_score >= result.validation_score > 0.5


@pytest.mark.slow
def test_the_leaderboard_ranks_every_trial_and_the_ensemble_by_score():
    _, result = _search(TaskKind.BINARY, trials=4)
    ranked = [c for c in result.leaderboard if c.rank is not None]
    assert [c.rank for c in ranked] == list(range(1, len(ranked) + 1))
    scores = [c.score for c in ranked]
    assert scores == sorted(scores, reverse=True)
    assert "ensemble" in {c.algorithm for c in ranked}
    assert all(c.fit_time_s >= 0 and c.predict_time_s >= 0 for c in ranked)


def test_naming_an_algorithm_restricts_the_search_to_it():
    _, result = _search(TaskKind.BINARY, algorithm="linear", trials=3)
    assert {m.algorithm for m in result.model.members} == {"linear"}
    assert {c.algorithm for c in result.leaderboard} <= {"linear", "ensemble"}


def test_an_unknown_algorithm_is_refused_before_any_training():
    with pytest.raises(UnknownAlgorithm):
        _search(TaskKind.BINARY, algorithm="gradient_magic")


@pytest.mark.slow
def test_a_search_finishes_by_its_deadline():
    started = time.monotonic()
    _, result = _search(TaskKind.BINARY, trials=None, deadline=started + 6.0)
    overrun_s = time.monotonic() - (started + 6.0)
    assert overrun_s < 0.3 + 0.05 * 6.0
    assert result.n_trials >= 1


def test_a_deadline_too_short_for_any_model_raises_budget_too_small():
    with pytest.raises(BudgetTooSmall, match="time budget"):
        _search(TaskKind.BINARY, trials=None, deadline=time.monotonic())


def test_a_rare_class_missing_from_a_fold_still_gives_full_probability_rows():
    frame, task = table(TaskKind.MULTICLASS, n_rows=120)
    frame.loc[frame.index[:2], "y"] = "d"  # two rows: one fold trains without it
    task = Task("y", TaskKind.MULTICLASS, "balanced_accuracy", ("a", "b", "c", "d"))
    result = search(frame, task=task, schema=SCHEMA, features=["x1", "x2", "colour"],
                    deadline=None, trials=1, algorithm="linear")
    proba = result.model.predict_proba(frame)
    assert proba.shape == (120, 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_callbacks_hear_the_start_every_trial_and_the_end():
    heard: list[str] = []

    class Recorder:
        def on_fit_start(self, info: Any) -> None:
            heard.append(f"start {info.validation}")

        def on_trial_end(self, event: Any) -> None:
            heard.append(f"trial {event.number} {event.status}")

        def on_fit_end(self, result: Any) -> None:
            heard.append("end")

    _search(TaskKind.BINARY, trials=2, callbacks=[Recorder()])
    assert heard == ["start 5-fold cross-validation, 2 times", "trial 0 ok", "trial 1 ok", "end"]


def test_a_callback_without_every_hook_is_fine_and_on_error_hears_failures():
    errors: list[BaseException] = []

    class OnlyErrors:
        def on_error(self, exc: BaseException) -> None:
            errors.append(exc)

    with pytest.raises(BudgetTooSmall):
        _search(TaskKind.BINARY, trials=None, deadline=time.monotonic(),
                callbacks=[OnlyErrors()])
    assert isinstance(errors[0], BudgetTooSmall)


def test_a_candidate_too_big_for_memory_trains_on_a_sample_and_says_so(
        monkeypatch: pytest.MonkeyPatch):
    # fake the edge we do not own: the free memory psutil reports
    needed = trial_module._estimate("linear", _probe_data())
    monkeypatch.setattr(trial_module, "available_mb",
                        lambda: needed * 0.5 / trial_module.MEMORY_SHARE)
    _, result = _search(TaskKind.BINARY, algorithm="linear", trials=1)
    row = next(c for c in result.leaderboard if c.algorithm == "linear")
    assert row.status == "sampled 50%"


def _probe_data() -> Any:
    from trainforge.training.automl import _prepare

    frame, task = table(TaskKind.BINARY)
    data, _ = _prepare(frame, task=task, schema=SCHEMA, features=["x1", "x2", "colour"],
                       seed=0, algorithm="linear")
    return data


def test_a_fixed_number_of_trials_that_all_fail_says_why_not_that_time_ran_out(
        monkeypatch: pytest.MonkeyPatch):
    def broken(*args: Any, **kwargs: Any) -> Any:  # what scikit-learn says of an inf it meets
        raise ValueError("Input X contains infinity")

    monkeypatch.setattr(trial_module, "_fit_fold", broken)
    with pytest.raises(NoTrialSucceeded, match=r"no trial trained a model.*\(linear\).*infinity") as error:
        _search(TaskKind.BINARY, algorithm="linear", trials=2)
    assert "time budget" not in str(error.value)


def test_a_label_outside_the_tasks_classes_is_named_in_the_error():
    frame, task = table(TaskKind.BINARY)
    frame.loc[frame.index[0], "y"] = "maybe"
    with pytest.raises(UnusableTarget, match="'maybe'"):
        search(frame, task=task, schema=SCHEMA, features=["x1"], deadline=None, trials=1)


def test_a_missing_feature_column_is_named_with_the_columns_there_are():
    frame, task = table(TaskKind.BINARY)
    with pytest.raises(ColumnNotFound, match="'x3'"):
        search(frame, task=task, schema=SCHEMA, features=["x1", "x3"], deadline=None, trials=1)


@pytest.mark.parametrize("algorithm", ["lightgbm", "catboost", "knn"])
def test_every_member_of_a_searched_model_saves_without_pickle(algorithm: str, tmp_path: Any):
    import skops.io as sio

    _, result = _search(TaskKind.BINARY, trials=1, algorithm=algorithm)
    safe = ("sklearn.", "numpy.", "scipy.", "trainforge.", "builtins.")
    for index, member in enumerate(result.model.members):
        if hasattr(member.estimator, "save_native"):
            member.estimator.save_native(tmp_path, f"m{index}")
            type(member.estimator).load_native(tmp_path, f"m{index}")
        for part in ([member.preprocessor] if hasattr(member.estimator, "save_native")
                     else [member.preprocessor, member.estimator]):
            untrusted = sio.get_untrusted_types(data=sio.dumps(part))
            assert all(t.startswith(safe) for t in untrusted), untrusted
