"""Small real models for the serving tests: adult (UCI) fitted with plain scikit-learn steps.

Built the way ``TabularModel`` documents (a fitted preprocessor, then a catalog estimator
trained on class codes), so the tests do not depend on the training code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from tests._paths import EXAMPLES

from trainforge.algorithms.boosting import LightGBMModel
from trainforge.algorithms.model import FeatureSpec, Member, TabularModel, coerce_frame
from trainforge.data.dataset import ColumnKind
from trainforge.data.task import Task, TaskKind
from trainforge.registry.loaded import LoadedModel

ADULT = EXAMPLES / "adult.csv"
NUMBERS = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
CATEGORIES = ["workclass", "education", "marital_status", "occupation", "relationship", "race",
              "sex", "native_country"]


def adult(n_rows: int = 2_000) -> pd.DataFrame:
    """The first rows of UCI adult, its target named 'class' and '?' read as missing."""
    return pd.read_csv(ADULT, nrows=n_rows, na_values="?").rename(columns={"income": "class"})


def _features(numbers: list[str], categories: list[str]) -> list[FeatureSpec]:
    return ([FeatureSpec(n, ColumnKind.NUMERIC, "number") for n in numbers]
            + [FeatureSpec(c, ColumnKind.CATEGORICAL, "string") for c in categories])


def _loaded(name: str, model: TabularModel, path: Path) -> LoadedModel:
    manifest = {"name": name, "version": 1, "task": model.task.kind.value,
                "features": [f.to_dict() for f in model.features]}
    return LoadedModel(name=name, version=1, model=model, manifest=manifest, path=path)


def lightgbm_classifier(frame: pd.DataFrame, target: str, path: Path,
                        *, name: str = "adult", min_child_samples: int = 5) -> LoadedModel:
    """trainforge's LightGBM on numbers as they are and categories as ordinal codes, after a
    scikit-learn ColumnTransformer (as trainforge 0.1.0's packages hold); a leaf holds at least
    ``min_child_samples`` rows."""
    numbers = [c for c in NUMBERS if c != target]
    categories = [c for c in CATEGORIES if c != target]
    features = _features(numbers, categories)
    X = coerce_frame(frame, features)
    labels = frame[target].astype(str)
    classes = tuple(sorted(labels.unique()))
    codes = np.searchsorted(np.asarray(classes, dtype=object), labels.to_numpy(dtype=object))
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan)
    pre = ColumnTransformer([("numbers", "passthrough", numbers),
                             ("categories", encoder, categories)]).fit(X)
    kind = TaskKind.BINARY if len(classes) == 2 else TaskKind.MULTICLASS
    categorical = tuple(range(len(numbers), len(numbers) + len(categories)))
    estimator = LightGBMModel(task_kind=kind.value, n_classes=len(classes), n_estimators=25,
                              num_leaves=15, min_child_samples=min_child_samples,
                              categorical_features=categorical, n_threads=1)
    estimator.fit(pre.transform(X), codes)
    task = Task(target=target, kind=kind, metric="roc_auc", classes=classes)
    member = Member(algorithm="lightgbm", params={}, preprocessor=pre, estimator=estimator)
    return _loaded(name, TabularModel(task=task, features=features, members=[member]), path)


def ridge_regressor(frame: pd.DataFrame, path: Path, *, name: str = "hours") -> LoadedModel:
    """Ridge on imputed, scaled numbers and one-hot categories (the "linear" style)."""
    numbers = [c for c in NUMBERS if c != "hours_per_week"]
    features = _features(numbers, CATEGORIES)
    X = coerce_frame(frame, features)
    pre = ColumnTransformer([
        ("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numbers),
        ("categories", make_pipeline(
            SimpleImputer(strategy="constant", fill_value="missing"),
            OneHotEncoder(handle_unknown="ignore", sparse_output=False)), CATEGORIES),
    ]).fit(X)
    estimator = Ridge(alpha=1.0).fit(pre.transform(X), frame["hours_per_week"].to_numpy(float))
    task = Task(target="hours_per_week", kind=TaskKind.REGRESSION, metric="r2")
    member = Member(algorithm="ridge", params={}, preprocessor=pre, estimator=estimator)
    return _loaded(name, TabularModel(task=task, features=features, members=[member]), path)


def blend_of_two(frame: pd.DataFrame, path: Path) -> LoadedModel:
    """A 3:1 blend of two LightGBM classifiers on different row halves."""
    half = len(frame) // 2
    first = lightgbm_classifier(frame.iloc[:half], "class", path).model
    second = lightgbm_classifier(frame.iloc[half:], "class", path).model
    members = [first.members[0], second.members[0]]
    members[0].weight, members[1].weight = 3.0, 1.0
    model = TabularModel(task=first.task, features=first.features, members=members)
    return _loaded("blend", model, path)


def record(frame: pd.DataFrame, row: int) -> dict[str, object]:
    """One row as a JSON request record: numbers as numbers, missing values as null."""
    values = frame.drop(columns=["class"]).iloc[row].to_dict()
    return {k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v)
            for k, v in values.items()}


def trainforge_pipeline(frame: pd.DataFrame, path: Path, *, style: str = "tree",
                        max_one_hot: int = 60, text: tuple[str, ...] = (),
                        library: str = "lightgbm", name: str = "tf") -> LoadedModel:
    """trainforge's own parts: ``make_preprocessor`` then ``LightGBMModel`` on class codes.

    ``text`` names columns to prepare as free text (TF-IDF) instead of categories.
    """
    from trainforge.algorithms.boosting import LightGBMModel
    from trainforge.data.prepare import make_preprocessor

    features = _features(NUMBERS, CATEGORIES)
    schema = {f.name: ColumnKind.TEXT if f.name in text else f.kind for f in features}
    X = coerce_frame(frame, features)
    classes = tuple(sorted(frame["class"].astype(str).unique()))
    codes = np.searchsorted(np.asarray(classes, dtype=object),
                            frame["class"].astype(str).to_numpy(dtype=object))
    pre = make_preprocessor(schema, [f.name for f in features], style=style,  # type: ignore[arg-type]
                            target_type="binary", max_one_hot=max_one_hot)
    matrix = pre.fit_transform(X, codes)
    ordinal = tuple(i for i, step in enumerate(pre.plan_) if step["op"] == "ordinal")
    if library == "xgboost":
        from trainforge.algorithms.boosting import XGBoostModel

        estimator = XGBoostModel(n_estimators=25, n_threads=1).fit(matrix, codes)
    else:
        estimator = LightGBMModel(task_kind="binary", n_classes=2, n_estimators=25,
                                  categorical_features=ordinal if style == "tree" else (),
                                  n_threads=1).fit(matrix, codes)
    task = Task(target="class", kind=TaskKind.BINARY, metric="roc_auc", classes=classes)
    member = Member(algorithm=library, params={}, preprocessor=pre, estimator=estimator)
    return _loaded(name, TabularModel(task=task, features=features, members=[member]), path)


CREDIT = Path(__file__).resolve().parents[2] / "examples" / "credit_g.csv"


def credit_pipeline(path: Path) -> tuple[LoadedModel, pd.DataFrame]:
    """credit-g with its yes/no boolean columns, through trainforge's linear preprocessing."""
    from sklearn.linear_model import LogisticRegression

    from trainforge.data.prepare import make_preprocessor
    from trainforge.data.schema import infer_kind

    frame = pd.read_csv(CREDIT)
    names = [c for c in frame.columns if c != "class"]
    kinds = {name: infer_kind(name, frame[name]) for name in names}
    dtypes = {ColumnKind.NUMERIC: "number", ColumnKind.BOOLEAN: "boolean"}
    features = [FeatureSpec(n, kinds[n], dtypes.get(kinds[n], "string")) for n in names]
    classes = tuple(sorted(frame["class"].unique()))
    codes = np.searchsorted(np.asarray(classes, dtype=object), frame["class"].to_numpy(object))
    pre = make_preprocessor(kinds, names, style="linear", target_type="binary")
    estimator = LogisticRegression(max_iter=500).fit(
        pre.fit_transform(coerce_frame(frame, features), codes), codes)
    task = Task(target="class", kind=TaskKind.BINARY, metric="roc_auc", classes=classes)
    member = Member(algorithm="linear", params={}, preprocessor=pre, estimator=estimator)
    model = TabularModel(task=task, features=features, members=[member])
    return _loaded("credit", model, path), frame.drop(columns=["class"])
