"""serving's TreeSHAP walk gives the boosters' own contributions, for a few rows."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
import xgboost as xgb
from catboost import Pool
from tests.algorithms._explained_models import fitted
from tests.serving.models import _loaded, trainforge_pipeline

from trainforge.algorithms.contributions import ModelExplainer
from trainforge.serving import explain
from trainforge.serving.explain import ServedExplainer, walked_members
from trainforge.serving.served import ServedModel
from trainforge.serving.shap_kernels import XGBOOST
from trainforge.serving.signature import Columns
from trainforge.serving.tree_readers import catboost_paths, leaf_paths, xgboost_paths
from trainforge.serving.tree_shap import (
    MAX_PATH_FEATURES,
    LeafPaths,
    PathTooLong,
    Tree,
    split_rules,
)


def _library(estimator, matrix: np.ndarray) -> np.ndarray:
    """The library's own contributions, (rows, margins, columns + 1), the bias last."""
    booster = estimator.booster_
    if type(estimator).__name__ == "LightGBMModel":
        raw = booster.predict(matrix, pred_contrib=True, num_iteration=estimator.best_iteration_)
    elif type(estimator).__name__ == "XGBoostModel":
        raw = booster.predict(xgb.DMatrix(matrix), pred_contribs=True,
                              iteration_range=(0, estimator.best_iteration_))
    else:
        raw = booster.get_feature_importance(type="ShapValues", data=Pool(matrix))
    n_margins = estimator.n_classes if estimator.task_kind == "multiclass" else 1
    return np.asarray(raw, dtype=np.float64).reshape(len(matrix), n_margins, -1)


def _walked(estimator, matrix: np.ndarray) -> np.ndarray:
    values, base = leaf_paths(estimator).contributions(matrix)
    return np.concatenate([values, base[:, :, None]], axis=2)


@pytest.mark.parametrize("library", ["lightgbm", "xgboost", "catboost"])
@pytest.mark.parametrize("table", ["credit_g", "concrete"])
def test_the_walk_gives_the_librarys_contributions(library: str, table: str):
    model, rows = fitted(table, library)
    member = model.members[0]
    matrix = np.asarray(member.preprocessor.transform(rows.head(6)), dtype=np.float64)
    # XGBoost sums in float32; the walk in float64
    tolerance = 1e-5 if library == "xgboost" else 1e-9
    assert np.abs(_walked(member.estimator, matrix)
                  - _library(member.estimator, matrix)).max() < tolerance


def test_the_walk_of_a_multiclass_booster_explains_each_class():
    model, rows = fitted("wine", "lightgbm")
    member = model.members[0]
    matrix = member.preprocessor.transform(rows.head(4))
    assert np.abs(_walked(member.estimator, matrix)
                  - _library(member.estimator, matrix)).max() < 1e-9


def test_categorical_splits_and_missing_values_walk_as_lightgbm_decides(
        adult_rows: pd.DataFrame, tmp_path: Path):
    estimator_model = trainforge_pipeline(adult_rows, tmp_path).model
    member = estimator_model.members[0]
    rows = adult_rows.drop(columns=["class"]).head(6).copy()
    rows.loc[rows.index[:3], ["workclass", "age", "occupation"]] = None
    rows.loc[rows.index[3], "education"] = "an unseen value"
    matrix = member.preprocessor.transform(rows)
    assert np.abs(_walked(member.estimator, matrix)
                  - _library(member.estimator, matrix)).max() < 1e-9


def test_a_served_blend_of_boosters_is_explained_by_the_walk(blend):
    served = ServedModel(blend)
    assert set(walked_members(blend.model, served.compiled)) == {0, 1}


def test_members_explained_side_by_side_give_the_same_figures(blend, adult_rows: pd.DataFrame):
    served = ServedModel(blend)
    explainer = ModelExplainer(blend.model, member_functions=walked_members(blend.model,
                                                                             served.compiled))
    rows = adult_rows.drop(columns=["class"]).head(3)
    matrices = served.compiled.member_matrices({c: rows[c].tolist() for c in rows.columns})
    with ThreadPoolExecutor(2) as pool:
        together = explainer.explain(None, matrices=matrices, executor=pool)
    one_by_one = explainer.explain(None, matrices=matrices)
    assert np.array_equal(together.values, one_by_one.values)
    assert np.array_equal(together.base_values, one_by_one.base_values)
    assert np.abs(together.values).sum() > 0


class _Counted(ThreadPoolExecutor):
    """A pool that counts what it is handed."""

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self.handed = 0

    def submit(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.handed += 1
        return super().submit(*args, **kwargs)


def test_a_blend_in_parts_hands_the_pool_one_call_a_lane_and_the_caller_works_too(
        blend, adult_rows: pd.DataFrame, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(explain, "PART_WORK", 500)  # several parts a member
    served = ServedModel(blend)
    explainer = ModelExplainer(blend.model, member_functions=walked_members(blend.model,
                                                                             served.compiled))
    rows = adult_rows.drop(columns=["class"]).iloc[[7]]
    matrices = served.compiled.member_matrices({c: rows[c].tolist() for c in rows.columns})
    with _Counted(3) as pool:
        four_lanes = explainer.explain(None, matrices=matrices, executor=pool, lanes=4)
        assert pool.handed == 3  # the fourth lane is the caller's: one hand-over a lane
        one_lane = explainer.explain(None, matrices=matrices, executor=pool, lanes=1)
        assert pool.handed == 3  # one lane: all on the caller's thread
    assert np.allclose(four_lanes.values, one_lane.values, rtol=0, atol=1e-12)
    assert np.abs(four_lanes.values).sum() > 0


@pytest.mark.parametrize("library", ["lightgbm", "xgboost", "catboost"])
def test_a_models_parts_add_up_to_its_contributions(library: str):
    model, rows = fitted("credit_g", library)
    estimator = model.members[0].estimator
    matrix = np.asarray(model.members[0].preprocessor.transform(rows.head(3)), dtype=np.float64)
    paths = leaf_paths(estimator)
    parts = paths.parts(3)
    whole, _ = paths.contributions(matrix)
    for row in range(len(matrix)):
        summed = np.sum([paths.margins(matrix[row], part) for part in parts], axis=0)
        assert len(parts) == 3 and np.allclose(summed, whole[row], rtol=0, atol=1e-12)


def test_a_blend_explained_in_parts_side_by_side_gives_the_same_figures(
        blend, adult_rows: pd.DataFrame, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(explain, "PART_WORK", 500)  # these small boosters: several parts each
    served = ServedModel(blend)
    walked = walked_members(blend.model, served.compiled)
    assert all(len(function.parts(np.zeros((1, 1)))) > 1 for function in walked.values())
    explainer = ModelExplainer(blend.model, member_functions=walked)
    rows = adult_rows.drop(columns=["class"]).iloc[[5]]
    matrices = served.compiled.member_matrices({c: rows[c].tolist() for c in rows.columns})
    with ThreadPoolExecutor(2) as pool:
        in_parts = explainer.explain(None, matrices=matrices, executor=pool)
        again = explainer.explain(None, matrices=matrices, executor=pool)
    one_call = explainer.explain(None, matrices=matrices)
    assert np.array_equal(in_parts.values, again.values)
    assert np.allclose(in_parts.values, one_call.values, rtol=0, atol=1e-12)
    assert np.array_equal(in_parts.base_values, one_call.base_values)


@pytest.mark.parametrize("library", ["lightgbm", "catboost"])
def test_leaves_too_deep_for_a_table_and_trees_too_big_to_tabulate_whole_are_walked(
        library: str):
    model, rows = fitted("credit_g", library)
    estimator = model.members[0].estimator
    matrix = np.asarray(model.members[0].preprocessor.transform(rows.head(6)), dtype=np.float64)
    paths = leaf_paths(estimator)
    depths = np.diff(paths.slot_start)
    paths.tabulate(max_depth=int(np.median(depths)) - 1, max_tree_splits=0)  # some of each
    assert (paths.table_start[:-1] == -1).any() and (paths.table_start[:-1] >= 0).any()
    values, base = paths.contributions(matrix)
    walked = np.concatenate([values, base[:, :, None]], axis=2)
    assert np.abs(walked - _library(estimator, matrix)).max() < 1e-9


def test_oblivious_trees_are_tabulated_whole_in_a_few_kib_each():
    model, _ = fitted("credit_g", "catboost")
    paths = leaf_paths(model.members[0].estimator)
    n_trees = len(paths.whole[4])
    assert n_trees > 0 and len(paths.walked) == 0
    assert paths.table_bytes < n_trees * 64 * 6 * 8 + n_trees * 200  # 2^6 rows of ≤ 6 floats


@pytest.mark.parametrize("nan_mode", ["Min", "Max"])
def test_the_walk_sends_catboosts_missing_values_where_catboost_does(nan_mode: str,
                                                                      adult_rows: pd.DataFrame):
    from catboost import CatBoostRegressor

    from trainforge.serving.catboost_trees import exported_model
    matrix = adult_rows[["age", "fnlwgt", "education_num", "capital_gain"]].to_numpy(float)
    holes = np.random.default_rng(1).random(matrix.shape) < 0.2
    matrix = np.where(holes, np.nan, matrix)
    model = CatBoostRegressor(iterations=30, depth=4, nan_mode=nan_mode, thread_count=1,
                              allow_writing_files=False, verbose=0).fit(matrix[:800], adult_rows["hours_per_week"][:800])
    rows = matrix[800:806]
    values, base = catboost_paths(exported_model(model)).contributions(rows)
    walked = np.concatenate([values, base[:, :, None]], axis=2)[:, 0, :]
    expected = model.get_feature_importance(type="ShapValues", data=Pool(rows))
    assert np.isnan(rows).any() and np.abs(walked - expected).max() < 1e-9


def test_the_walk_sends_xgboosts_missing_values_where_xgboost_does(adult_rows: pd.DataFrame):
    matrix = adult_rows[["age", "fnlwgt", "education_num", "capital_gain"]].to_numpy(float)
    holes = np.random.default_rng(2).random(matrix.shape) < 0.2
    matrix = np.where(holes, np.nan, matrix)
    booster = xgb.train({"max_depth": 4, "nthread": 1, "base_score": 40.0},
                        xgb.DMatrix(matrix[:800], label=adult_rows["hours_per_week"][:800]),
                        num_boost_round=30)
    rows = matrix[800:806]
    values, base = xgboost_paths(booster, 30, n_outputs=1).contributions(rows)
    walked = np.concatenate([values, base[:, :, None]], axis=2)[:, 0, :]
    expected = booster.predict(xgb.DMatrix(rows), pred_contribs=True)
    assert np.isnan(rows).any() and np.abs(walked - expected).max() < 1e-4


def test_a_path_asking_about_more_features_than_the_walks_bit_mask_holds_is_refused():
    n_splits = MAX_PATH_FEATURES + 1  # a chain: split i on feature i, its left side a leaf
    nodes = []
    for split in range(n_splits):
        nodes += [(split, 2 * split + 1, 2 * split + 2, 1.0), (None, 0.5, None, 0.5)]
    chain = Tree([*nodes, (None, 1.0, None, 0.5)], output=0)
    with pytest.raises(PathTooLong, match=f"{n_splits} distinct features"):
        LeafPaths([chain], split_rules(np.full(n_splits, XGBOOST), np.arange(n_splits)),
                  n_features=n_splits, n_outputs=1, bias=np.zeros(1))


# ---- a served blend whose members are all walked: one walk of all their trees --------------
MIXED = {"credit_g": ("xgboost", "lightgbm", "catboost"), "wine": ("xgboost", "lightgbm"),
         "concrete": ("xgboost", "lightgbm", "catboost")}


def _served_blend(table: str, path: Path, *, weights: tuple[float, ...]
                  ) -> tuple[ServedModel, ServedExplainer, pd.DataFrame]:
    model, rows = fitted(table, *MIXED[table], weights=weights)
    served = ServedModel(_loaded("mixed", model, path))
    explainer = ServedExplainer(served)
    explainer.explainer()
    inputs = rows[[spec.name for spec in model.features]].head(6).copy()
    numbers = [spec.name for spec in model.features if spec.dtype == "number"]
    inputs.loc[inputs.index[:2], numbers[:2]] = np.nan  # each library's missing-value rule
    return served, explainer, inputs


def _columns(served: ServedModel, rows: pd.DataFrame) -> Columns:
    records = [{k: None if pd.isna(v) else v.item() if hasattr(v, "item") else v
                for k, v in row.items()} for row in rows.to_dict("records")]
    return served.signature.parse_request(orjson.dumps({"records": records}))


@pytest.mark.parametrize("table", ["credit_g", "wine", "concrete"])
def test_a_blend_of_boosters_walked_as_one_gives_the_member_by_member_figures(
        table: str, tmp_path: Path):
    served, explainer, rows = _served_blend(table, tmp_path, weights=(0.5, 0.3, 0.2))
    columns = _columns(served, rows)
    together = explainer.explain(columns)
    model = served.loaded.model
    by_member = ModelExplainer(model, member_functions=walked_members(
        model, served.compiled)).explain(None, matrices=served.compiled.member_matrices(
            columns.values))
    assert np.allclose(together.values, by_member.values, rtol=0, atol=1e-12)
    assert np.allclose(together.base_values, by_member.base_values, rtol=0, atol=1e-12)
    outputs = served.scored_outputs(columns).reshape(len(rows), -1)
    # to XGBoost's float32: 1e-6 of the output's size (concrete's strengths are ~40)
    assert np.abs(together.explained - outputs).max() < 1e-6 * max(1.0, np.abs(outputs).max())


def test_a_blend_walked_as_one_gives_the_same_figures_with_and_without_the_pool(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    served, explainer, rows = _served_blend("credit_g", tmp_path, weights=(0.5, 0.3, 0.2))
    with _Counted(3) as pool:
        monkeypatch.setattr(explain, "_MEMBERS", pool)
        on_the_pool = [explainer.explain(_columns(served, rows.iloc[[i]])) for i in range(6)]
        assert pool.handed == 6 * (len(explainer._blend.parts) - 1)  # the first: the caller's
    monkeypatch.setattr(explain, "_MEMBERS", None)
    alone = [explainer.explain(_columns(served, rows.iloc[[i]])) for i in range(6)]
    for one, other in zip(on_the_pool, alone, strict=True):
        assert np.array_equal(one.values, other.values)
        assert np.array_equal(one.base_values, other.base_values)


def test_parts_the_pool_has_not_started_are_run_by_the_caller(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    served, explainer, rows = _served_blend("credit_g", tmp_path, weights=(0.5, 0.3, 0.2))
    release = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        pool.submit(release.wait, 60)  # the pool's one thread is busy with something else
        monkeypatch.setattr(explain, "_MEMBERS", pool)
        started = time.monotonic()
        while_busy = explainer.explain(_columns(served, rows.iloc[[0]]))
        waited_s = time.monotonic() - started
        release.set()
    monkeypatch.setattr(explain, "_MEMBERS", None)
    alone = explainer.explain(_columns(served, rows.iloc[[0]]))
    assert waited_s < 10 and np.array_equal(while_busy.values, alone.values)


def test_a_member_of_weight_zero_is_left_out_of_the_blend_walk(tmp_path: Path):
    served, explainer, rows = _served_blend("concrete", tmp_path, weights=(0.6, 0.0, 0.4))
    assert explainer._blend is not None and explainer._blend.kept == [0, 2]
    model = served.loaded.model
    columns = _columns(served, rows)
    by_member = ModelExplainer(model).explain(rows)  # the libraries' own, every member
    # XGBoost sums in float32, the walk in float64 (as the walk's own test above)
    assert np.allclose(explainer.explain(columns).values, by_member.values, rtol=0, atol=1e-5)
