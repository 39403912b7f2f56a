"""Small fitted models built from the examples shipped with the project."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from tests._paths import EXAMPLES

from trainforge.algorithms.model import FeatureSpec, Member, TabularModel, coerce_frame
from trainforge.data.dataset import ColumnKind
from trainforge.data.task import Task, TaskKind
from trainforge.registry import Registry
from trainforge.workspace import Workspace


def _features(numeric: list[str], categorical: list[str]) -> list[FeatureSpec]:
    return ([FeatureSpec(c, ColumnKind.NUMERIC, "number") for c in numeric]
            + [FeatureSpec(c, ColumnKind.CATEGORICAL, "string") for c in categorical])


def _preprocessor(numeric: list[str], categorical: list[str]) -> ColumnTransformer:
    return ColumnTransformer([
        ("numbers", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
        ("categories", OneHotEncoder(handle_unknown="ignore"), categorical),
    ])


@pytest.fixture(scope="session")
def credit() -> pd.DataFrame:
    return pd.read_csv(EXAMPLES / "credit_g.csv")


@pytest.fixture(scope="session")
def classifier(credit: pd.DataFrame) -> TabularModel:
    """Credit risk (good/bad) from five columns: a ColumnTransformer + LogisticRegression."""
    numeric, categorical = ["duration", "credit_amount", "age"], ["checking_status", "purpose"]
    features = _features(numeric, categorical)
    task = Task(target="class", kind=TaskKind.BINARY, metric="roc_auc", classes=("bad", "good"))
    frame = coerce_frame(credit, features)
    codes = np.searchsorted(task.classes, credit["class"].astype(str))
    preprocessor = _preprocessor(numeric, categorical).fit(frame)
    estimator = LogisticRegression(max_iter=500).fit(preprocessor.transform(frame), codes)
    member = Member(algorithm="logistic_regression", params={"C": 1.0},
                    preprocessor=preprocessor, estimator=estimator)
    return TabularModel(task=task, features=features, members=[member])


@pytest.fixture(scope="session")
def regressor() -> TabularModel:
    """Concrete strength from its mix: two Ridge members blended 3:1."""
    table = pd.read_csv(EXAMPLES / "concrete.csv")
    numeric = ["cement", "water", "age", "superplasticizer"]
    features = _features(numeric, [])
    frame = coerce_frame(table, features)
    members = []
    for alpha, weight in ((1.0, 3.0), (10.0, 1.0)):
        preprocessor = _preprocessor(numeric, []).fit(frame)
        estimator = Ridge(alpha=alpha).fit(preprocessor.transform(frame),
                                           table["compressive_strength"])
        members.append(Member(algorithm="ridge", params={"alpha": alpha}, weight=weight,
                              preprocessor=preprocessor, estimator=estimator))
    task = Task(target="compressive_strength", kind=TaskKind.REGRESSION, metric="r2")
    return TabularModel(task=task, features=features, members=members)


@pytest.fixture
def workspace(new_workspace, tmp_path: Path) -> Iterator[Workspace]:
    ws = new_workspace(tmp_path / "home")  # tests/conftest.py: a copy of a migrated store
    yield ws
    ws.close()


@pytest.fixture
def registry(workspace: Workspace) -> Registry:
    return workspace.registry


@pytest.fixture
def lineage() -> dict[str, object]:
    return {"dataset_fingerprint": "ab" * 32, "run_id": "0" * 32, "params": {"C": 1.0},
            "seed": 0}
