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
from trainforge.data.dataset import ColumnKind, Schema
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

