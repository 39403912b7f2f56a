"""Writes golden/credit-1: a package as trainforge 0.1.0 wrote it, and the predictions it made.

The package is committed and never rewritten: test_registry_formats.py checks that every later
trainforge still loads it and predicts the same. Run again only for a new format version, into a
new folder: `python tests/registry/golden/write_golden.py credit-<format>`.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from trainforge.algorithms.boosting import LightGBMModel
from trainforge.algorithms.model import FeatureSpec, Member, TabularModel, coerce_frame
from trainforge.data.dataset import ColumnKind
from trainforge.data.task import Task, TaskKind
from trainforge.workspace import Workspace

HERE = Path(__file__).parent
EXAMPLES = HERE.parents[2] / "examples"
N_ROWS = 30  # predictions kept for the first rows of credit_g.csv


def main(folder: str) -> None:
    credit = pd.read_csv(EXAMPLES / "credit_g.csv")
    numeric, categorical = ["duration", "credit_amount", "age"], ["checking_status", "purpose"]
    features = ([FeatureSpec(c, ColumnKind.NUMERIC, "number") for c in numeric]
                + [FeatureSpec(c, ColumnKind.CATEGORICAL, "string") for c in categorical])
    task = Task(target="class", kind=TaskKind.BINARY, metric="roc_auc", classes=("bad", "good"))
    frame = coerce_frame(credit, features)
    codes = np.searchsorted(task.classes, credit["class"].astype(str))
    preprocessor = ColumnTransformer([
        ("numbers", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
        ("categories", OneHotEncoder(handle_unknown="ignore"), categorical)]).fit(frame)
    matrix = preprocessor.transform(frame)
    members = [
        Member(algorithm="logistic_regression", params={"C": 1.0}, preprocessor=preprocessor,
               estimator=LogisticRegression(max_iter=500).fit(matrix, codes)),
        Member(algorithm="lightgbm", params={"n_estimators": 20}, preprocessor=preprocessor,
               estimator=LightGBMModel(n_estimators=20, n_threads=1).fit(matrix, codes)),
    ]
    model = TabularModel(task=task, features=features, members=members)
    with tempfile.TemporaryDirectory() as home:
        version = Workspace(Path(home)).registry.register(
            model, name="credit", metrics={"roc_auc": 0.0}, description="golden package",
            lineage={"dataset_fingerprint": None, "run_id": None, "seed": 0})
        target = HERE / folder
        shutil.copytree(version.path, target)
    expected = {"rows": N_ROWS, "proba": model.predict_proba(credit.head(N_ROWS)).tolist()}
    (target.parent / f"{folder}.expected.json").write_text(json.dumps(expected, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
