"""Every kind of model trainforge makes is written with types on the allow-list, so packages keep
loading; a new algorithm needing a new type fails here, naming the type to add."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.algorithms._catalog_cases import QUICK, TABULAR, TASKS

from trainforge.algorithms import catalog
from trainforge.algorithms.anomaly import METHODS as ANOMALY_METHODS
from trainforge.algorithms.anomaly import AnomalyDetector, AnomalyModel
from trainforge.algorithms.clustering import METHODS as CLUSTER_METHODS
from trainforge.algorithms.clustering import MINI_BATCH_ROWS, ClusteringModel, build_segments
from trainforge.algorithms.label_spreading import SpreadLabels
from trainforge.algorithms.model import FeatureSpec
from trainforge.data.dataset import ColumnKind
from trainforge.data.prepare import make_preprocessor
from trainforge.data.raw_column import make_raw_column
from trainforge.data.task import TaskKind
from trainforge.registry.allowed_types import NATIVE_CLASSES, SKOPS_TYPES
from trainforge.registry.safe_files import save_object

SCHEMA = {"amount": ColumnKind.NUMERIC, "income": ColumnKind.NUMERIC,
          "colour": ColumnKind.CATEGORICAL, "city": ColumnKind.CATEGORICAL,
          "member": ColumnKind.BOOLEAN, "joined": ColumnKind.DATETIME, "review": ColumnKind.TEXT}
N_ROWS = 400


def _table() -> pd.DataFrame:
    """Every column kind a table model reads, with missing values and a many-level category
    (target-encoded in the linear style)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "amount": rng.normal(size=N_ROWS), "income": rng.exponential(size=N_ROWS) ** 3,
        "colour": rng.choice(["red", "green", "blue"], N_ROWS),
        "city": [f"city-{i % 40}" for i in range(N_ROWS)],
        "member": rng.choice(["yes", "no"], N_ROWS),
        "joined": pd.date_range("2020-01-01", periods=N_ROWS, freq="D").astype(str),
        "review": [" ".join(rng.choice(["good", "bad", "slow", "fine"], 5))
                   for _ in range(N_ROWS)]})
    frame.loc[::7, "amount"] = np.nan
    frame.loc[::9, "colour"] = None
    return frame


def _target(kind: TaskKind, n_rows: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    if kind is TaskKind.REGRESSION:
        return rng.normal(size=n_rows)
    return rng.integers(0, len(TASKS[kind].classes), n_rows)


def _unlisted(obj: Any, tmp_path: Path) -> list[str]:
    """The types ``obj`` is written with that the allow-list lacks (saving refuses them)."""
    try:
        save_object(obj, tmp_path, stem="probe")
    except TypeError as refused:
        return [str(refused)]
    return []


@pytest.mark.parametrize("style", ["linear", "tree"])
@pytest.mark.parametrize("target_type", ["continuous", "binary", "multiclass"])
def test_every_table_preprocessor_is_written_with_allowed_types(style: str, target_type: str,
                                                                tmp_path: Path):
    kind = {"continuous": TaskKind.REGRESSION, "binary": TaskKind.BINARY,
            "multiclass": TaskKind.MULTICLASS}[target_type]
    preprocessor = make_preprocessor(SCHEMA, list(SCHEMA), style=style,  # type: ignore[arg-type]
                                     target_type=target_type,  # type: ignore[arg-type]
                                     compress_tails=True)
    preprocessor.fit(_table(), _target(kind, N_ROWS))
    assert _unlisted(preprocessor, tmp_path) == []


@pytest.mark.parametrize("kind", [ColumnKind.IMAGE, ColumnKind.TEXT])
def test_the_raw_column_a_network_reads_is_written_with_allowed_types(kind: ColumnKind,
                                                                      tmp_path: Path):
    raw = make_raw_column({"x": kind}, ["x"], kind=kind.value)
    raw.fit(pd.DataFrame({"x": ["a.png", "b.png"]}))
    assert _unlisted(raw, tmp_path) == []


@pytest.mark.parametrize(("name", "kind"),
                         [(a.name, k) for a in TABULAR for k in sorted(a.kinds)])
def test_every_catalog_estimator_is_written_with_allowed_types_or_natively(
        name: str, kind: TaskKind, tmp_path: Path):
    algorithm = catalog.get(name)
    weights = {"class_weight": "balanced"} if algorithm.class_weights and kind.is_classification \
        else {}
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5))
    estimator = algorithm.build({**QUICK.get(name, {}), **weights}, TASKS[kind], 0)
    estimator.fit(X, _target(kind, len(X)))
    assert _unlisted(estimator, tmp_path) == []


@pytest.mark.parametrize("name", [a.name for a in TABULAR if a.family != "boosting"])
def test_a_classifier_aligned_to_classes_it_missed_is_written_with_allowed_types(
        name: str, tmp_path: Path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5))
    estimator = catalog.get(name).build(QUICK.get(name, {}), TASKS[TaskKind.MULTICLASS], 0)
    aligned = catalog.AlignedClassifier(estimator, n_classes=3).fit(X, rng.integers(0, 2, 120))
    assert _unlisted(aligned, tmp_path) == []


# k-means turns mini-batch on tables over MINI_BATCH_ROWS: that variant is written too
@pytest.mark.parametrize(("method", "n_rows"), [*((m, N_ROWS) for m in CLUSTER_METHODS),
                                                ("kmeans", MINI_BATCH_ROWS + 1)])
def test_every_segmentation_is_written_with_allowed_types(method: str, n_rows: int,
                                                          tmp_path: Path):
    model = ClusteringModel(_specs(), _small_preprocessor(),
                            build_segments(method, n_clusters=3, n_rows=n_rows, seed=0))
    model.fit(_table())
    assert _unlisted(model, tmp_path) == []


@pytest.mark.parametrize("method", ANOMALY_METHODS)
def test_every_anomaly_detector_is_written_with_allowed_types(method: str, tmp_path: Path):
    model = AnomalyModel(_specs(), _small_preprocessor(), AnomalyDetector(method)).fit(_table())
    assert _unlisted(model, tmp_path) == []


def test_label_spreading_is_written_with_allowed_types(tmp_path: Path):
    rng = np.random.default_rng(0)
    codes = np.where(np.arange(90) % 3 == 0, rng.integers(0, 2, 90), -1)
    model = SpreadLabels(kernel="knn", n_neighbors=7, max_iter=100)
    assert _unlisted(model.fit(rng.normal(size=(90, 3)), codes), tmp_path) == []


def test_every_class_that_saves_itself_natively_is_on_the_native_list():
    from trainforge.algorithms import boosting, network
    from trainforge.rl import package

    natives = [boosting.LightGBMModel, boosting.XGBoostModel, boosting.CatBoostModel,
               network.NetworkModel, package.PolicyModel]
    assert {f"{c.__module__}:{c.__qualname__}" for c in natives} == NATIVE_CLASSES


def test_the_allow_list_names_no_function_that_reads_writes_or_runs_code():
    assert not {"builtins.eval", "builtins.exec", "builtins.open", "builtins.type",
                "numpy.load", "numpy.testing._private.utils.runstring"} & SKOPS_TYPES


def _specs() -> list[dict[str, str]]:
    return [FeatureSpec("amount", ColumnKind.NUMERIC, "number").to_dict(),
            FeatureSpec("colour", ColumnKind.CATEGORICAL, "string").to_dict()]


def _small_preprocessor() -> Any:
    return make_preprocessor({"amount": ColumnKind.NUMERIC, "colour": ColumnKind.CATEGORICAL},
                             ["amount", "colour"], style="linear", compress_tails=True)
