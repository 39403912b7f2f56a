"""The data layer: read a table, infer its schema and task, profile it, split it.

    from trainforge.data import clean_target, infer_task, read_table
    dataset = read_table("examples/adult.csv")
    task = infer_task(dataset, "income")

Names load on first use, so importing ``trainforge.data.task`` (as the CLI does) stays cheap.
``profile()`` lives in ``trainforge.data.profile`` (the SDK has ``trainforge.profile``): a
package attribute of that name would be shadowed by the submodule once it is imported.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "read_table": "read", "read_chunks": "read", "NA_TOKENS": "read",
    "infer_schema": "schema",
    "infer_task": "targets", "clean_target": "targets", "feature_columns": "targets",
    "TargetReport": "targets",
    "Profile": "profile",
    "train_test_split": "splits",
    "Dataset": "dataset", "ColumnKind": "dataset", "Schema": "dataset",
    "Task": "task", "TaskKind": "task",
}

__all__ = [
    "NA_TOKENS",
    "ColumnKind",
    "Dataset",
    "Profile",
    "Schema",
    "TargetReport",
    "Task",
    "TaskKind",
    "clean_target",
    "feature_columns",
    "infer_schema",
    "infer_task",
    "read_chunks",
    "read_table",
    "train_test_split",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'trainforge.data' has no attribute {name!r}")
    return getattr(importlib.import_module(f"trainforge.data.{_HOMES[name]}"), name)
