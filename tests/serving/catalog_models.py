"""Every tabular catalog algorithm trained the way AutoML trains it, registered and loaded back.

Each table gets one small trial per algorithm (``search`` with ``trials=1``) refitted on all
its rows as ``refit_on_all`` does for the registered model, plus the blend of all of them (the
shape AutoML registers when it keeps several candidates: members sharing one fitted
preprocessor per style). Sizes are shrunk so the whole catalog trains in seconds.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
from tests._paths import EXAMPLES

from trainforge.algorithms import catalog
from trainforge.algorithms.model import TabularModel
from trainforge.algorithms.unsupervised_results import as_table_model
from trainforge.data.read import read_table
from trainforge.data.targets import infer_task
from trainforge.data.task import TaskKind
from trainforge.registry.loaded import LoadedModel
from trainforge.training.automl import search
from trainforge.training.refit import refit_on_all
from trainforge.training.unsupervised import cluster, find_anomalies
from trainforge.workspace import Workspace

# table → (file, target, rows trained on); the rows after them are the ones served
TABLES = {"credit_g": ("credit_g.csv", "class", 200), "wine": ("wine.csv", "cultivar", 120),
          "concrete": ("concrete.csv", "compressive_strength", 200)}
# the defaults' sizes (300 trees, 2,000 rounds, 128-wide layers) only make the test slower
SMALL = {"random_forest": {"n_estimators": 10}, "extra_trees": {"n_estimators": 10},
         "lightgbm": {"n_estimators": 30}, "xgboost": {"n_estimators": 30},
         "catboost": {"n_estimators": 30}, "mlp": {"width": 8, "depth": 1}}
BLEND = "blend of all"
BOOSTERS = ("lightgbm", "xgboost", "catboost")
# a blend whose explained answers come from one walk of all its trees: the boosters whose walk
# answers for them on each table (CatBoost's multiclass trees are not walked; XGBoost's float32
# values are not a regressor's answer to 1e-6)
WALKED_BLEND = "blend of walked boosters"
WALKED = {"credit_g": BOOSTERS, "wine": ("lightgbm", "xgboost"),
          "concrete": ("lightgbm", "catboost")}
N_SERVED = 300


def tabular_algorithms() -> list[str]:
    return [a.name for a in catalog.for_task(TaskKind.BINARY, "table")]


@dataclasses.dataclass(frozen=True)
class Trained:
    """One table's packages, loaded from a registry, and the rows to serve them."""

    kind: TaskKind
    models: dict[str, LoadedModel]
    rows: pd.DataFrame  # the features of the rows to serve, mostly ones no model trained on


def train_catalog(table: str, home: Path) -> Trained:
    file, target, n_train = TABLES[table]
    dataset = read_table(EXAMPLES / file)
    task = infer_task(dataset, target)
    shuffled = dataset.frame.sample(frac=1.0, random_state=0)  # wine is sorted by its target
    frame = shuffled.iloc[:n_train]
    features = [c for c in frame.columns if c != target]
    registry = Workspace(home).registry
    models: dict[str, TabularModel] = {}
    searched = []
    for name in tabular_algorithms():
        result = search(frame, task=task, schema=dataset.schema, features=features,
                        deadline=None, trials=1, seed=0, algorithm=name,
                        fixed_params=SMALL.get(name))
        searched.append(result)
        models[name] = _refit(result, frame, task=task, schema=dataset.schema, features=features)
    walked = [r for name, r in zip(tabular_algorithms(), searched, strict=True)
              if name in WALKED[table]]
    for blend, results in ((BLEND, searched), (WALKED_BLEND, walked)):
        chosen = [dataclasses.replace(r.chosen[0], weight=1.0 / len(results)) for r in results]
        models[blend] = _refit(dataclasses.replace(results[0], chosen=chosen), frame,
                               task=task, schema=dataset.schema, features=features)
    loaded = {}
    for name, model in models.items():
        registry.register(model, name=f"{table}-{name.replace(' ', '-')}", metrics={},
                          lineage={})
        loaded[name] = registry.load(f"{table}-{name.replace(' ', '-')}")
    # wine has 178 rows: its served rows include the ones it trained on
    return Trained(task.kind, loaded, shuffled.iloc[-N_SERVED:].drop(columns=[target]))


def _refit(result: object, frame: pd.DataFrame, **options: object) -> TabularModel:
    model = refit_on_all(result, frame, deadline=None, **options)  # type: ignore[arg-type]
    assert model is not None  # with no deadline a refit always finishes
    return model


def train_unsupervised(home: Path) -> dict[str, tuple[LoadedModel, pd.DataFrame]]:
    """A clustering of wine and an anomaly detector on credit-g, registered and loaded."""
    registry = Workspace(home).registry
    wine = read_table(EXAMPLES / "wine.csv")
    credit = read_table(EXAMPLES / "credit_g.csv")
    wine_features = [c for c in wine.frame.columns if c != "cultivar"]
    credit_features = [c for c in credit.frame.columns if c != "class"]
    segments = cluster(wine.frame.iloc[:120], features=wine_features, schema=wine.schema,
                       time_budget_s=5, seed=0, method="kmeans", k=3)
    anomalies = find_anomalies(credit.frame.iloc[:200], features=credit_features,
                               schema=credit.schema, seed=0)
    registry.register(as_table_model(segments), name="wine-segments", metrics={}, lineage={})
    registry.register(as_table_model(anomalies), name="credit-anomalies", metrics={},
                      lineage={})
    return {"clustering": (registry.load("wine-segments"), wine.frame.iloc[120:][wine_features]),
            "anomaly": (registry.load("credit-anomalies"),
                        credit.frame.iloc[200:500][credit_features])}
