"""Small real models the explanation tests explain: trainforge's own preprocessing and catalog
estimators fitted directly on a few hundred rows of credit-g (binary), wine (multiclass) and
concrete (regression), so the tests do not depend on the training code."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import ExtraTreesClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from tests._paths import EXAMPLES

from trainforge.algorithms.boosting import CatBoostModel, LightGBMModel, XGBoostModel
from trainforge.algorithms.model import FeatureSpec, Member, TabularModel, coerce_frame
from trainforge.data.dataset import ColumnKind
from trainforge.data.prepare import make_preprocessor
from trainforge.data.task import DEFAULT_METRIC, Task, TaskKind

TARGETS = {"credit_g": ("class", TaskKind.BINARY), "wine": ("cultivar", TaskKind.MULTICLASS),
           "concrete": ("compressive_strength", TaskKind.REGRESSION)}


def table(name: str, n_rows: int = 400) -> pd.DataFrame:
    return pd.read_csv(EXAMPLES / f"{name}.csv").head(n_rows)


def _features(frame: pd.DataFrame, target: str) -> list[FeatureSpec]:
    return [FeatureSpec(str(c), ColumnKind.NUMERIC, "number")
            if pd.api.types.is_numeric_dtype(frame[c])
            else FeatureSpec(str(c), ColumnKind.CATEGORICAL, "string")
            for c in frame.columns if c != target]


def _estimator(library: str, kind: TaskKind, n_classes: int) -> Any:
    common = {"task_kind": kind.value, "n_classes": n_classes, "n_threads": 1}
    if library == "lightgbm":
        return LightGBMModel(n_estimators=30, num_leaves=8, min_child_samples=5, **common)
    if library == "xgboost":
        return XGBoostModel(n_estimators=30, max_depth=4, **common)
    if library == "catboost":
        return CatBoostModel(n_estimators=30, depth=4, **common)
    if library == "forest":
        if kind.is_classification:
            return ExtraTreesClassifier(n_estimators=20, max_depth=6, random_state=0)
        return RandomForestRegressor(n_estimators=20, max_depth=6, random_state=0)
    return LogisticRegression(max_iter=500)


def fitted(name: str, *libraries: str, style: str = "tree", weights: tuple[float, ...] = (),
           max_one_hot: int = 60) -> tuple[TabularModel, pd.DataFrame]:
    """A blend of ``libraries`` (one member each, weighted by ``weights``) fitted on
    ``name``; returns it and its input rows."""
    frame = table(name)
    target, kind = TARGETS[name]
    features = _features(frame, target)
    X = coerce_frame(frame, features)
    classes = tuple(sorted(frame[target].astype(str).unique())) if kind.is_classification else ()
    y = (np.searchsorted(np.asarray(classes, dtype=object),
                         frame[target].astype(str).to_numpy(dtype=object))
         if classes else frame[target].to_numpy(dtype=np.float64))
    schema = {f.name: f.kind for f in features}
    target_type = "continuous" if kind is TaskKind.REGRESSION else kind.value
    members = []
    for position, library in enumerate(libraries):
        pre = make_preprocessor(schema, [f.name for f in features], style=style,  # type: ignore[arg-type]
                                target_type=target_type, max_one_hot=max_one_hot)
        matrix = pre.fit_transform(X, y)
        estimator = _estimator(library, kind, max(2, len(classes))).fit(matrix, y)
        weight = weights[position] if weights else 1.0
        members.append(Member(algorithm=library, params={}, preprocessor=pre,
                              estimator=estimator, weight=weight))
    task = Task(target=target, kind=kind, metric=DEFAULT_METRIC[kind], classes=classes)
    return TabularModel(task=task, features=features, members=members), frame.drop(
        columns=[target])


def outputs(model: TabularModel, rows: pd.DataFrame) -> np.ndarray:
    """The model's own outputs, (rows, outputs), as the contributions explain them."""
    if model.task.kind.is_classification:
        return model.predict_proba(rows)
    return model.predict(rows).reshape(-1, 1)
