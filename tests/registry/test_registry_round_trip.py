"""Registering a model and loading it back: the same predictions, the manifest a user reads."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from tests._paths import EXAMPLES

from trainforge.algorithms.model import Member, TabularModel, coerce_frame
from trainforge.errors import BadModelName
from trainforge.registry import Registry


def test_a_loaded_classifier_predicts_what_the_registered_one_did(
        registry: Registry, classifier: TabularModel, credit: pd.DataFrame, lineage: dict):
    registry.register(classifier, name="credit", metrics={"roc_auc": 0.77}, lineage=lineage)
    loaded = registry.load("credit")
    rows = credit.head(50)
    np.testing.assert_array_equal(loaded.model.predict_proba(rows), classifier.predict_proba(rows))
    assert loaded.model.predict(rows).tolist() == classifier.predict(rows).tolist()


def test_a_loaded_blend_of_regressors_predicts_what_the_registered_one_did(
        registry: Registry, regressor: TabularModel, lineage: dict):
    table = pd.read_csv(EXAMPLES / "concrete.csv").head(40)
    registry.register(regressor, name="concrete", metrics={"r2": 0.6}, lineage=lineage)
    loaded = registry.load("concrete:1")
    np.testing.assert_array_equal(loaded.model.predict(table), regressor.predict(table))
    assert [m.weight for m in loaded.model.members] == [3.0, 1.0]


def test_a_boosting_member_is_stored_in_its_native_format_and_predicts_the_same(
        registry: Registry, classifier: TabularModel, credit: pd.DataFrame, lineage: dict):
    from trainforge.algorithms.boosting import LightGBMModel

    member = classifier.members[0]
    matrix = member.preprocessor.transform(coerce_frame(credit, classifier.features))
    codes = np.searchsorted(classifier.classes, credit["class"].astype(str))
    booster = LightGBMModel(n_estimators=20, n_threads=1).fit(matrix, codes)
    model = TabularModel(task=classifier.task, features=classifier.features, members=[
        Member(algorithm="lightgbm", params={"n_estimators": 20},
                     preprocessor=member.preprocessor, estimator=booster)])
    version = registry.register(model, name="credit-gbm", metrics={}, lineage=lineage)
    loaded = registry.load("credit-gbm")
    estimator_entry = loaded.manifest["members"][0]["estimator"]
    assert estimator_entry["format"] == "native"
    assert estimator_entry["class"] == "trainforge.algorithms.boosting:LightGBMModel"
    assert all((version.path / name).is_file() for name in estimator_entry["files"])
    np.testing.assert_allclose(loaded.model.predict_proba(credit), model.predict_proba(credit))


def test_the_package_holds_a_manifest_the_members_and_the_extra_files(
        registry: Registry, classifier: TabularModel, tmp_path, lineage: dict):
    report = tmp_path / "report.html"
    report.write_text("<h1>credit</h1>")
    version = registry.register(classifier, name="credit", metrics={"roc_auc": 0.77},
                                lineage=lineage, extra_files={"report.html": report})
    manifest = json.loads((version.path / "manifest.json").read_text())
    assert sorted(p.name for p in version.path.iterdir()) == sorted(
        ["manifest.json", *manifest["files"]])
    assert (version.path / "report.html").read_text() == "<h1>credit</h1>"
    assert manifest["files"]["report.html"]["size"] == len("<h1>credit</h1>")


def test_the_manifest_records_task_signature_metrics_and_lineage(
        registry: Registry, classifier: TabularModel, lineage: dict):
    registry.register(classifier, name="credit", metrics={"roc_auc": 0.77}, lineage=lineage,
                      description="first try")
    manifest = registry.show("credit")
    assert manifest["format_version"] == 1
    assert (manifest["name"], manifest["version"], manifest["description"]) == (
        "credit", 1, "first try")
    assert manifest["task"] == {"kind": "binary", "target": "class", "metric": "roc_auc",
                                "classes": ["bad", "good"]}
    assert manifest["signature"][0] == {"name": "duration", "kind": "numeric", "dtype": "number"}
    assert manifest["metrics"] == {"roc_auc": 0.77}
    assert manifest["lineage"]["dataset_fingerprint"] == lineage["dataset_fingerprint"]
    assert manifest["lineage"]["seed"] == 0
    assert manifest["lineage"]["packages"]["sklearn"] is not None
    assert manifest["members"][0]["preprocessor"]["format"] == "skops"


def test_numpy_metrics_and_params_are_stored_as_plain_numbers(
        registry: Registry, classifier: TabularModel, lineage: dict):
    registry.register(classifier, name="credit", lineage=lineage,
                      metrics={"roc_auc": np.float32(0.5), "log_loss": float("nan")})
    assert registry.show("credit")["metrics"] == {"roc_auc": 0.5, "log_loss": None}


def test_versions_count_up_from_one(
        lineage: dict, registry: Registry, classifier: TabularModel):
    numbers = [registry.register(classifier, name="credit", metrics={}, lineage=lineage).version
               for _ in range(3)]
    assert numbers == [1, 2, 3]
    assert [v.version for v in registry.versions("credit")] == [1, 2, 3]


def test_the_listing_shows_each_name_once_with_its_latest_version_and_score(
        registry: Registry, classifier: TabularModel, regressor: TabularModel, lineage: dict):
    registry.register(classifier, name="credit", metrics={"roc_auc": 0.7}, lineage=lineage)
    registry.register(classifier, name="credit", metrics={"roc_auc": 0.8}, lineage=lineage)
    registry.register(regressor, name="concrete", metrics={"r2": 0.6}, lineage=lineage)
    registry.alias("credit", 1, "production")
    rows = [(s.name, s.latest_version, s.n_versions, s.task, s.metric, s.metric_value,
             s.aliases) for s in registry.list_models()]
    assert rows == [("concrete", 1, 1, "regression", "r2", 0.6, {}),
                    ("credit", 2, 2, "binary", "roc_auc", 0.8, {"production": 1})]


def test_a_name_that_is_not_a_safe_slug_is_refused_before_anything_is_written(
        registry: Registry, classifier: TabularModel, lineage: dict):
    with pytest.raises(BadModelName, match=r"'\.\./evil' cannot be a model name"):
        registry.register(classifier, name="../evil", metrics={}, lineage=lineage)
    assert not registry.root.exists() or not any(registry.root.iterdir())
