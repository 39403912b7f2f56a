"""Models and apps the serving tests share: fitted once per session on real adult rows."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from trainforge.registry.loaded import LoadedModel
from trainforge.serving.app import create_app
from trainforge.workspace import Workspace

from .models import adult, blend_of_two, lightgbm_classifier, record, ridge_regressor


@pytest.fixture(scope="session")
def adult_rows() -> pd.DataFrame:
    return adult(2_000)


@pytest.fixture(scope="session")
def classifier(adult_rows: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    return lightgbm_classifier(adult_rows, "class", tmp_path_factory.mktemp("adult"))


@pytest.fixture(scope="session")
def regressor(adult_rows: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    return ridge_regressor(adult_rows, tmp_path_factory.mktemp("hours"))


@pytest.fixture(scope="session")
def multiclass(adult_rows: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    return lightgbm_classifier(adult_rows, "relationship", tmp_path_factory.mktemp("rel"),
                               name="relationship")


@pytest.fixture(scope="session")
def blend(adult_rows: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    return blend_of_two(adult_rows, tmp_path_factory.mktemp("blend"))


@pytest.fixture
def client(classifier: LoadedModel) -> TestClient:
    return TestClient(create_app({"adult": classifier}), raise_server_exceptions=False)


@pytest.fixture
def two_models(classifier: LoadedModel, regressor: LoadedModel) -> TestClient:
    return TestClient(create_app({"adult": classifier, "hours": regressor}),
                      raise_server_exceptions=False)


@pytest.fixture
def one_record(adult_rows: pd.DataFrame) -> dict[str, object]:
    return record(adult_rows, 0)


@pytest.fixture
def records(adult_rows: pd.DataFrame) -> list[dict[str, object]]:
    return [record(adult_rows, i) for i in range(40)]


class _Broken:
    """An estimator that fails at predict time, as a corrupt or incompatible model would."""

    def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
        raise RuntimeError("the estimator fell over")


@pytest.fixture
def broken_client(classifier: LoadedModel) -> TestClient:
    member = classifier.model.members[0]
    model = type(classifier.model)(task=classifier.model.task, features=classifier.model.features,
                                   members=[type(member)(algorithm="broken", params={},
                                                         preprocessor=member.preprocessor,
                                                         estimator=_Broken())])
    broken = LoadedModel(name="broken", version=3, model=model, manifest={}, path=classifier.path)
    return TestClient(create_app({"broken": broken, "adult": classifier}),
                      raise_server_exceptions=False)


@pytest.fixture(scope="module")
def wine_workspace(wine_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A copy of tests/conftest.py's ``wine_home``: ``wine``, a linear model of
    examples/wine.csv's cultivar (the batch prediction tests' model)."""
    home = tmp_path_factory.mktemp("wine") / "home"
    shutil.copytree(wine_home, home)
    return Workspace(home)
