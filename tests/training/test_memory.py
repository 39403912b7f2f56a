"""Memory: estimates grow with the data, and the peak of a fit is measured."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesRegressor
from tests.training._tables import FEATURES, SCHEMA, table

from trainforge.algorithms.boosting import CatBoostModel
from trainforge.data.task import TaskKind
from trainforge.training import automl
from trainforge.training.assembly import assemble_model
from trainforge.training.automl import _prepare
from trainforge.training.memory import PeakMemory, available_mb, estimate_peak_mb, fitted_mb
from trainforge.training.trial import CandidateSpec, SearchData, run_trial


def test_a_bigger_table_is_estimated_to_need_more_memory():
    small = estimate_peak_mb("lightgbm", n_rows=1_000, n_columns=10)
    large = estimate_peak_mb("lightgbm", n_rows=100_000, n_columns=10)
    assert 0 < small < large


def test_forests_are_estimated_to_need_more_than_boosting_on_the_same_table():
    assert estimate_peak_mb("random_forest", n_rows=50_000, n_columns=10) > estimate_peak_mb(
        "lightgbm", n_rows=50_000, n_columns=10)


def test_the_peak_memory_of_a_block_sees_a_large_temporary_allocation():
    with PeakMemory(interval_s=0.005) as peak:
        block = np.ones((64, 2**20 // 8 * 4))  # 256 MiB, touched
        block.sum()
        del block
    assert peak.peak_mb > 100 and available_mb() > 0


def test_a_fitted_forest_is_measured_by_its_trees_so_twice_the_trees_hold_twice_the_memory():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 4)), rng.normal(size=300)
    small = fitted_mb(ExtraTreesRegressor(n_estimators=10, random_state=0).fit(X, y))
    large = fitted_mb(ExtraTreesRegressor(n_estimators=20, random_state=0).fit(X, y))
    assert 0 < small and large == pytest.approx(2 * small, rel=0.1)


def test_a_catboost_model_is_measured_by_what_its_library_holds_so_more_classes_hold_more():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6))
    sizes = [fitted_mb(CatBoostModel(task_kind=kind, n_classes=classes, n_estimators=100,
                                     n_threads=1).fit(X, np.arange(400) % classes))
             for kind, classes in (("binary", 2), ("multiclass", 6))]
    # the leaf values of 100 trees of depth 6, and the model around them
    assert 0.8 < sizes[0] < sizes[1]


def test_a_trial_whose_fold_models_are_too_large_to_keep_releases_them_once_scored():
    data = _probe_data()
    spec = CandidateSpec("extra_trees", {"n_estimators": 20})
    kept = run_trial(spec, data, stop_at=None)
    released = run_trial(spec, data, stop_at=None, keep_mb=fitted_mb(
        kept.members[0].estimator))  # room for one fold model, not for all of them
    n_folds = len(data.resampling.folds)
    assert len(kept.members) == n_folds and not kept.released
    assert released.released and released.members == [] and released.members_mb == 0
    # the same fits: its out-of-fold predictions (what the blend chooses by) are all there
    np.testing.assert_allclose(released.oof, kept.oof)


def test_a_holdout_forest_too_large_to_keep_is_grown_in_slices_and_fitted_again_if_chosen(
        monkeypatch: pytest.MonkeyPatch):
    # a large table is validated on one holdout: its forest trial held every tree at once
    # (california_housing: 441 MB for one extra-trees trial), now it holds one slice
    monkeypatch.setattr(automl, "CV_MAX_ROWS", 10)
    data = _probe_data()
    assert data.resampling.kind == "holdout"
    spec = CandidateSpec("extra_trees", {"n_estimators": 120})
    kept = run_trial(spec, data, stop_at=None)
    released = run_trial(spec, data, stop_at=None,
                         keep_mb=fitted_mb(kept.members[0].estimator) / 2)
    assert len(kept.members) == 1 and not kept.released
    assert released.released and released.members == []
    np.testing.assert_allclose(released.oof, kept.oof)  # the same trees scored the holdout
    model, note = assemble_model(data, [released], np.array([1.0]), deadline=None)
    assert note == "1 of 1 members refitted on all rows"
    assert len(model.members[0].estimator.estimators_) == 120


@pytest.mark.slow
def test_a_search_over_its_memory_budget_still_blends_every_candidate_fitted_once(
        monkeypatch: pytest.MonkeyPatch):
    # with no room for fold models, every candidate is released once scored and stays in the
    # ensemble's pool; each one the blend chooses is fitted once on all rows, not k times
    frame, task = table(TaskKind.BINARY)
    options = {"task": task, "schema": SCHEMA, "features": FEATURES, "deadline": None,
               "trials": 4, "seed": 0, "algorithm": "linear"}
    bagged = automl.search(frame, **options)
    monkeypatch.setattr(automl, "MEMBERS_BUDGET_MB", 1e-6)
    lean = automl.search(frame, **options)
    weights = next(c for c in lean.leaderboard if c.algorithm == "ensemble").params["members"]
    assert weights == next(c for c in bagged.leaderboard
                           if c.algorithm == "ensemble").params["members"]
    assert len(lean.model.members) == len(weights) < len(bagged.model.members)
    assert "fitted once on all rows" in next(
        c for c in lean.leaderboard if c.algorithm == "ensemble").note
    assert lean.validation_score == bagged.validation_score
    assert lean.model.predict_proba(frame).shape == (len(frame), 2)


_THREADS_ALLOCATE = """
import sys, threading
import numpy as np
from trainforge.training.memory import _libc, limit_malloc_arenas
if sys.argv[1] == "limited":
    limit_malloc_arenas()
def work():
    blocks = [np.ones(20_000) for _ in range(200)]
threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads: t.start()
for t in threads: t.join()
_libc("malloc_stats")()  # one "Arena n:" block per heap, on stderr
"""


def _heaps(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", _THREADS_ALLOCATE, mode], check=True,
                          capture_output=True, text=True, timeout=120)
    return done.stderr.count("Arena ")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's arenas")
def test_threads_of_a_training_share_at_most_two_malloc_heaps():
    # six threads allocating at once: glibc would give each a heap that keeps what it freed
    assert _heaps("default") > 2
    assert _heaps("limited") <= 2


def _probe_data() -> SearchData:
    frame, task = table(TaskKind.REGRESSION)
    data, _ = _prepare(frame, task=task, schema=SCHEMA, features=FEATURES, seed=0,
                       algorithm="extra_trees")
    return data


_NO_CHILD = """
import sys
spawned = []
sys.addaudithook(lambda event, args: spawned.append(event) if event in (
    "subprocess.Popen", "os.fork", "os.posix_spawn", "os.system") else None)
from trainforge.training.memory import limit_malloc_arenas, release_freed_memory
limit_malloc_arenas()
release_freed_memory()
print(spawned)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc functions")
def test_reaching_mallocs_settings_starts_no_child_process():
    # a child forked from a training counts the training's memory twice until it execs:
    # ctypes.util.find_library("c") runs `ldconfig -p` in one
    done = subprocess.run([sys.executable, "-c", _NO_CHILD], check=True, capture_output=True,
                          text=True, timeout=120)
    assert done.stdout.strip() == "[]"
