"""The catalog cases the algorithm, registry and estimator-check suites share: one task per
kind, and the smaller settings under which each algorithm is tested."""

from __future__ import annotations

from typing import Any

from trainforge.algorithms import catalog
from trainforge.data.task import Task, TaskKind

# fewer rounds/trees than the defaults: no contract depends on model size
QUICK: dict[str, dict[str, Any]] = {
    "lightgbm": {"n_estimators": 20}, "xgboost": {"n_estimators": 20},
    "catboost": {"n_estimators": 20}, "random_forest": {"n_estimators": 15},
    "extra_trees": {"n_estimators": 15}, "mlp": {"width": 16}}
TASKS = {
    TaskKind.BINARY: Task("y", TaskKind.BINARY, "roc_auc", ("no", "yes")),
    TaskKind.MULTICLASS: Task("y", TaskKind.MULTICLASS, "balanced_accuracy", ("a", "b", "c")),
    TaskKind.REGRESSION: Task("y", TaskKind.REGRESSION, "r2"),
}
# networks read raw images or text, not a matrix: tests/algorithms/test_network_contract.py
TABULAR = [a for a in catalog.all_algorithms() if "table" in a.modalities]
