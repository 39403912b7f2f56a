"""Small real models for the evaluation tests: fitted directly, no training module needed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from tests._paths import EXAMPLES, TABLES

from trainforge.algorithms.model import FeatureSpec, Member, TabularModel, coerce_frame
from trainforge.data.dataset import ColumnKind
from trainforge.data.task import DEFAULT_METRIC, Task, TaskKind


def features_of(frame: pd.DataFrame, target: str) -> list[FeatureSpec]:
    return [FeatureSpec(str(c), ColumnKind.NUMERIC, "number")
            if pd.api.types.is_numeric_dtype(frame[c])
            else FeatureSpec(str(c), ColumnKind.CATEGORICAL, "string")
            for c in frame.columns if c != target]


def fit_model(train: pd.DataFrame, target: str, kind: TaskKind) -> TabularModel:
    """A one-member model: imputed, scaled numbers and one-hot categories into a linear model."""
    features = features_of(train, target)
    numbers = [f.name for f in features if f.dtype == "number"]
    categories = [f.name for f in features if f.dtype == "string"]
    preprocessor = ColumnTransformer([
        ("numbers", make_pipeline(SimpleImputer(), StandardScaler()), numbers),
        ("categories", OneHotEncoder(handle_unknown="ignore"), categories),
    ])
    matrix = preprocessor.fit_transform(coerce_frame(train, features))
    if kind.is_classification:
        classes = tuple(sorted(train[target].astype(str).unique()))
        codes = train[target].astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy()
        estimator = LogisticRegression(max_iter=500).fit(matrix, codes)
    else:
        classes = ()
        estimator = Ridge().fit(matrix, train[target].to_numpy(dtype="float64"))
    task = Task(target=target, kind=kind, metric=DEFAULT_METRIC[kind], classes=classes)
    member = Member(algorithm="linear", params={}, preprocessor=preprocessor, estimator=estimator)
    return TabularModel(task=task, features=features, members=[member])


def split(frame: pd.DataFrame, *, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    cut = int(len(frame) * 0.75)
    return frame.iloc[order[:cut]], frame.iloc[order[cut:]]


@pytest.fixture(scope="session")
def credit() -> tuple[TabularModel, pd.DataFrame, pd.DataFrame]:
    """Binary, with categorical columns: credit_g (1,000 rows), classes 'bad' and 'good'."""
    train, test = split(pd.read_csv(EXAMPLES / "credit_g.csv"))
    return fit_model(train, "class", TaskKind.BINARY), train, test


@pytest.fixture(scope="session")
def vowel() -> tuple[TabularModel, pd.DataFrame, pd.DataFrame]:
    """Multiclass: vowel (990 rows, 11 classes)."""
    train, test = split(pd.read_csv(TABLES / "vowel.csv.gz"))
    return fit_model(train, "Class", TaskKind.MULTICLASS), train, test


@pytest.fixture(scope="session")
def concrete() -> tuple[TabularModel, pd.DataFrame, pd.DataFrame]:
    """Regression: concrete compressive strength (1,030 rows)."""
    train, test = split(pd.read_csv(EXAMPLES / "concrete.csv"))
    return fit_model(train, "compressive_strength", TaskKind.REGRESSION), train, test
