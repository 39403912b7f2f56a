"""The compiled fast path gives exactly the model's own numbers, or is not used at all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from trainforge.algorithms.model import Member, TabularModel, coerce_frame
from trainforge.registry.loaded import LoadedModel
from trainforge.serving.app import create_app
from trainforge.serving.compiled import compile_model, probe_columns, verify
from trainforge.serving.estimators import COMPILERS, Output, compile_estimator, compiler_for
from trainforge.serving.served import ServedModel

from .models import credit_pipeline, record, trainforge_pipeline


def _model_numbers(loaded: LoadedModel, frame: pd.DataFrame) -> np.ndarray:
    model = loaded.model
    if model.task.kind.is_classification:
        return model.predict_proba(frame)
    return model.predict(frame)


def _columns(loaded: LoadedModel, frame: pd.DataFrame) -> dict[str, list[object]]:
    rows = [record(frame, i) for i in range(len(frame))]
    return {f.name: [r.get(f.name) for r in rows] for f in loaded.model.features}


@pytest.mark.parametrize("name", ["classifier", "regressor", "multiclass", "blend"])
def test_fast_path_equals_the_model_on_real_rows(name, request, adult_rows):
    loaded = request.getfixturevalue(name)
    rows = adult_rows.iloc[1000:1300]
    columns = _columns(loaded, rows)
    compiled = compile_model(loaded.model)
    expected = _model_numbers(loaded, pd.DataFrame(columns))
    assert np.allclose(compiled.blend(columns), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("style", "library"), [("tree", "lightgbm"), ("linear", "lightgbm"),
                                                ("tree", "xgboost")])
def test_trainforge_preprocessing_and_boosting_compile_to_the_same_numbers(style, library,
                                                                           adult_rows,
                                                                           tmp_path: Path):
    loaded = trainforge_pipeline(adult_rows.iloc[:1500], tmp_path, style=style, library=library)
    columns = _columns(loaded, adult_rows.iloc[1500:1800])
    compiled = compile_model(loaded.model)
    expected = _model_numbers(loaded, pd.DataFrame(columns))
    assert np.allclose(compiled.blend(columns), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.slow
def test_target_encoded_categories_compile_to_the_same_numbers(adult_rows, tmp_path: Path):
    # max_one_hot=5: wider categories are target-encoded in the linear style
    loaded = trainforge_pipeline(adult_rows.iloc[:1500], tmp_path, style="linear", max_one_hot=5)
    assert any(step["op"] == "target" for step in loaded.model.members[0].preprocessor.plan_)
    columns = _columns(loaded, adult_rows.iloc[1500:1800])
    compiled = compile_model(loaded.model)
    expected = _model_numbers(loaded, pd.DataFrame(columns))
    assert np.allclose(compiled.blend(columns), expected, rtol=1e-12, atol=1e-12)


def test_a_step_the_compiler_does_not_know_is_served_through_pandas(adult_rows, tmp_path: Path):
    loaded = trainforge_pipeline(adult_rows.iloc[:1500], tmp_path, text=("occupation",))
    served = ServedModel(loaded)
    assert served.compiled is None
    columns = served.signature.parse_records([record(adult_rows, 1600)])
    assert np.allclose(served.outputs(columns),
                       _model_numbers(loaded, pd.DataFrame(columns.values)))


def test_verification_refuses_a_fast_path_that_disagrees(classifier: LoadedModel):
    compiled = compile_model(classifier.model)
    share, which, call = compiled._members[0]
    compiled._members[0] = (share, which, lambda columns: call(columns)[:, ::-1])
    assert not verify(compiled, probe_columns(classifier.model))


def test_a_boolean_keeps_the_spelling_the_model_learned(tmp_path: Path):
    loaded, frame = credit_pipeline(tmp_path)
    assert {"foreign_worker": "boolean"}.items() <= {f.name: f.dtype
                                                     for f in loaded.model.features}.items()
    client = TestClient(create_app({"credit": loaded}))
    rows = frame.iloc[:30]
    body = client.post("/v1/models/credit/predict",
                       json={"records": rows.to_dict("records")}).json()
    got = [p["good"] for p in body["probabilities"]]
    assert np.allclose(got, loaded.model.predict_proba(rows)[:, 1], rtol=1e-12)


def test_a_multi_threaded_forest_is_served_in_one_thread_and_left_unchanged(classifier,
                                                                            adult_rows):
    from sklearn.ensemble import RandomForestClassifier

    member = classifier.model.members[0]
    matrix = member.preprocessor.transform(
        coerce_frame(adult_rows.iloc[:500], classifier.model.features))
    forest = RandomForestClassifier(n_estimators=10, n_jobs=2, random_state=0).fit(
        np.nan_to_num(matrix, nan=-1.0), (adult_rows["class"].iloc[:500] == ">50K").to_numpy())
    model = TabularModel(task=classifier.model.task, features=classifier.model.features,
                         members=[Member("forest", {}, member.preprocessor, forest)])
    columns = _columns(classifier, adult_rows.iloc[600:650])
    compiled = compile_model(model)
    assert np.allclose(compiled.blend(columns), model.predict_proba(pd.DataFrame(columns)))
    assert forest.n_jobs == 2


@pytest.mark.parametrize("n_rows", [1, 64])
def test_walked_forest_trees_give_the_forests_own_numbers(n_rows, adult_rows):
    from sklearn.ensemble import ExtraTreesRegressor

    from trainforge.serving.forests import forest_walker

    matrix = adult_rows[["age", "fnlwgt", "education_num", "capital_gain"]].to_numpy(float)
    matrix[::7, 0] = np.nan  # missing values the trees learned where to send
    forest = ExtraTreesRegressor(n_estimators=30, random_state=0).fit(
        matrix[:1000], adult_rows["hours_per_week"].iloc[:1000].to_numpy(float))
    rows = matrix[1000:1000 + n_rows]
    assert np.allclose(forest_walker(forest, classify=False)(rows), forest.predict(rows),
                       rtol=1e-12)


@pytest.mark.parametrize("objective", ["binary:logistic", "reg:squarederror"])
def test_walked_xgboost_trees_give_xgboosts_own_numbers(objective, adult_rows):
    import xgboost as xgb

    from trainforge.serving.xgboost_trees import xgboost_walker

    matrix = adult_rows[["age", "fnlwgt", "education_num", "capital_gain"]].to_numpy(float)
    matrix[::7, 0] = np.nan
    target = ((adult_rows["class"] == ">50K") if objective.startswith("binary")
              else adult_rows["hours_per_week"]).to_numpy(float)
    booster = xgb.train({"objective": objective, "max_depth": 4, "nthread": 1},
                        xgb.DMatrix(matrix[:1000], label=target[:1000]), num_boost_round=40)
    rows = matrix[1000:1064]
    walked = xgboost_walker(booster, 30)(rows)
    assert np.array_equal(walked, booster.inplace_predict(rows, iteration_range=(0, 30)))


def test_a_multiclass_logistic_regression_gives_its_own_probabilities(adult_rows):
    from sklearn.linear_model import LogisticRegression

    matrix = adult_rows[["age", "education_num", "hours_per_week"]].to_numpy(float)
    matrix = (matrix - matrix.mean(axis=0)) / matrix.std(axis=0)
    model = LogisticRegression(max_iter=300).fit(matrix[:1000], adult_rows["race"].iloc[:1000])
    rows = matrix[1000:1050]
    call, _ = compile_estimator(model, Output(classify=True, n_classes=5))
    got = call([list(column) for column in rows.T])
    assert np.allclose(got, model.predict_proba(rows), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("task_kind", ["binary", "regression"])
def test_catboost_trees_evaluated_directly_give_catboosts_own_numbers(task_kind, adult_rows):
    from trainforge.algorithms.boosting import CatBoostModel
    matrix = adult_rows[["age", "fnlwgt", "education_num", "capital_gain"]].to_numpy(float)
    target = ((adult_rows["class"] == ">50K").astype(int) if task_kind == "binary"
              else adult_rows["hours_per_week"]).to_numpy()
    model = CatBoostModel(task_kind=task_kind, n_estimators=40, depth=4, n_threads=1).fit(
        matrix[:1000], target[:1000])
    rows = matrix[1000:1064]
    expected = model.predict_proba(rows) if task_kind == "binary" else model.predict(rows)
    call, _ = compile_estimator(model, Output(classify=task_kind == "binary", n_classes=2))
    got = call([list(column) for column in rows.T])
    assert np.allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_an_estimator_with_no_compiler_is_served_by_its_own_predict_and_named(classifier,
                                                                              adult_rows):
    from sklearn.neighbors import KNeighborsClassifier

    member = classifier.model.members[0]
    matrix = member.preprocessor.transform(
        coerce_frame(adult_rows.iloc[:500], classifier.model.features))
    knn = KNeighborsClassifier(n_neighbors=5).fit(
        np.nan_to_num(matrix, nan=-1.0), (adult_rows["class"].iloc[:500] == ">50K").to_numpy())
    model = TabularModel(task=classifier.model.task, features=classifier.model.features,
                         members=[member, Member("knn", {}, member.preprocessor, knn)])
    assert compile_model(model).own_predict == ["knn (KNeighborsClassifier)"]


def test_a_compiler_is_chosen_for_the_exact_type_only():
    from sklearn.linear_model import Ridge

    class TweakedRidge(Ridge):
        pass  # a subclass may predict differently: it must not borrow Ridge's formula

    assert compiler_for(TweakedRidge()) is None


def test_a_compiler_added_to_the_table_serves_its_type():
    from sklearn.neighbors import KNeighborsRegressor

    def knn_compiler(estimator: object, output: object) -> None:
        return None

    table = {"sklearn.neighbors.KNeighborsRegressor": knn_compiler}
    assert compiler_for(KNeighborsRegressor(), table) is knn_compiler


@pytest.mark.parametrize("path", sorted(COMPILERS))
def test_every_entry_of_the_compiler_table_names_an_installed_type(path: str):
    import importlib

    module, _, name = path.rpartition(".")
    assert isinstance(getattr(importlib.import_module(module), name), type)


@pytest.mark.parametrize("nan_mode", ["Min", "Max"])
def test_catboost_trees_send_a_missing_value_where_catboost_does(nan_mode, adult_rows):
    from catboost import CatBoostClassifier

    from trainforge.serving.catboost_trees import catboost_walker
    matrix = adult_rows[["age", "fnlwgt", "education_num", "hours_per_week"]].to_numpy(float)
    target = (adult_rows["class"] == ">50K").astype(int).to_numpy()
    holes = np.random.default_rng(0).random(matrix.shape) < 0.2
    model = CatBoostClassifier(iterations=40, depth=4, nan_mode=nan_mode, thread_count=1,
                               allow_writing_files=False, verbose=0).fit(np.where(holes, np.nan, matrix)[:1000], target[:1000])
    rows = np.where(holes, np.nan, matrix)[1000:1064]
    rows[:, 2] = np.nan  # a column missing everywhere
    predict = catboost_walker(model, "Logloss")
    assert predict is not None
    assert np.allclose(predict(rows), model.predict_proba(rows)[:, 1], rtol=1e-12, atol=1e-15)


def test_verification_trusts_a_fast_path_within_float32_rounding_of_the_model(
        classifier: LoadedModel):
    compiled = compile_model(classifier.model)
    share, which, call = compiled._members[0]
    compiled._members[0] = (share, which, lambda columns: call(columns) * (1 + 3e-8))
    assert verify(compiled, probe_columns(classifier.model))
