"""What a simulated federation will learn, decided from the table it splits before any process
starts: the model (``--model``, "auto" reading the data), and the network's declared shape.

Like the declared encoding (``data.declared_schema``), the image size and pixel statistics a
CNN normalises by are declared up front: in a simulation from the whole table, as the
coordinator of a real federation would from a sample it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from trainforge.algorithms.network_inputs import ImageInputs
from trainforge.data.dataset import ColumnKind, Dataset, Schema
from trainforge.data.declared_schema import DeclaredSchema, declare_schema
from trainforge.data.targets import clean_target, feature_columns, infer_task
from trainforge.data.task import Task
from trainforge.errors import ConfigError
from trainforge.federated.networks import cnn_settings, mlp_settings


@dataclass(frozen=True)
class ModelChoice:
    model: str  # "linear", "mlp", "cnn" or "xgboost"
    image_column: str | None  # what the CNN reads; None for the table models
    table_features: list[str]  # what the declared schema encodes (none for the CNN)


def choose_model(requested: str, *, schema: Schema, features: Sequence[str], task: Task,
                 source: str) -> ModelChoice:
    """``requested`` ("auto", "linear", "mlp", "cnn" or "xgboost") checked against the data:
    "auto" is
    the CNN when a feature is an image column, else the linear model. Raises ConfigError for
    a CNN without images, or a table model on images alone."""
    images = [name for name in features if ColumnKind(schema[name]) is ColumnKind.IMAGE]
    tables = [name for name in features if ColumnKind(schema[name]) is not ColumnKind.IMAGE]
    model = requested if requested != "auto" else ("cnn" if images else "linear")
    if model == "cnn":
        if not images:
            raise ConfigError(f"--model cnn reads images, and {source} has no image column "
                              f"(its features: {', '.join(features)}); use --model mlp or "
                              "linear for a table")
        if not task.kind.is_classification:
            raise ConfigError(f"--model cnn classifies images; {task.target!r} of {source} "
                              "is a regression target")
        return ModelChoice(model="cnn", image_column=images[0], table_features=[])
    if not tables:
        raise ConfigError(f"--model {model} learns from table columns, and {source} has "
                          f"images only; use --model cnn (or auto)")
    return ModelChoice(model=model, image_column=None, table_features=tables)


@dataclass(frozen=True)
class DeclaredTable:
    frame: pd.DataFrame  # the rows with a usable target, the target as training takes it
    task: Task
    choice: ModelChoice
    schema: DeclaredSchema  # the encoding every holder applies to ``choice.table_features``


def declare_table(dataset: Dataset, target: str, *, model: str = "auto",
                  leave_out: str | None = None, notes: list[str] | None = None
                  ) -> DeclaredTable:
    """``dataset`` as a federation will learn it: the task of ``target``, its rows with a
    usable target, the ``model`` checked against its features (``leave_out``, a by-column
    partition's column, is not one: a holder's identity is no feature of its rows) and the
    declared schema of the table features that model reads (``notes`` gets a line for each
    column left out). Raises ConfigError as ``infer_task`` and ``choose_model`` do."""
    task = infer_task(dataset, target)
    frame, _ = clean_target(dataset, task)
    features = [name for name in feature_columns(dataset.schema, task.target, frame=frame,
                                                 source=dataset.source) if name != leave_out]
    choice = choose_model(model, schema=dataset.schema, features=features, task=task,
                          source=dataset.source)
    schema = declare_schema(frame, task, schema=dataset.schema, features=choice.table_features,
                            notes=notes)
    return DeclaredTable(frame=frame, task=task, choice=choice, schema=schema)


def network_settings(choice: ModelChoice, frame: pd.DataFrame, *, task: Task,
                     image_size: int) -> dict[str, Any]:
    """The plan's ``network``: the MLP's widths, or the CNN's config, image column, size and
    pixel statistics (from all of ``frame``'s images); empty for the linear model."""
    if choice.model == "mlp":
        return mlp_settings()
    if choice.model != "cnn" or choice.image_column is None:
        return {}
    inputs = ImageInputs.fit(frame[choice.image_column].tolist(), size=image_size)
    return cnn_settings(choice.image_column, inputs, n_classes=len(task.classes))

