"""Small image and text networks as served models, for the explanation tests."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from trainforge.algorithms.model import FeatureSpec, Member, TabularModel
from trainforge.algorithms.network import NetworkModel
from trainforge.algorithms.network_inputs import ImageInputs
from trainforge.data.dataset import ColumnKind
from trainforge.data.raw_column import RawColumn
from trainforge.data.task import Task, TaskKind
from trainforge.registry.loaded import LoadedModel

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
READ_PIXEL = (1, 1)  # the one pixel of an 8 × 8 image the image network reads


def png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def images(n_images: int) -> list[bytes]:
    """8 × 8 grey PNGs, each a different random pattern."""
    rng = np.random.default_rng(0)
    return [png(rng.integers(40, 255, size=(8, 8))) for _ in range(n_images)]


def _loaded(network: NetworkModel, feature: FeatureSpec, task: Task, name: str,
            path: Path) -> LoadedModel:
    kind = feature.kind.value
    picks = RawColumn([(feature.name, kind)], kind=kind).fit(pd.DataFrame({feature.name: []}))
    model = TabularModel(task=task, features=[feature], members=[Member(
        algorithm=network.architecture, params={}, preprocessor=picks, estimator=network)])
    return LoadedModel(name=name, version=1, model=model, manifest={}, path=path)


def image_network(path: Path) -> LoadedModel:
    """A binary classifier of 8 × 8 grey images that reads one pixel (READ_PIXEL)."""
    torch = pytest.importorskip("torch")
    module = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
    with torch.no_grad():
        module[1].weight.zero_()
        module[1].weight[1, READ_PIXEL[0] * 8 + READ_PIXEL[1]] = 3.0
    network = NetworkModel(architecture="cnn", task_kind="binary", n_classes=2)
    network.module_ = module
    network.inputs_ = ImageInputs(shape=(1, 8, 8), mean=[0.5], std=[0.25])
    task = Task(target="label", kind=TaskKind.BINARY, metric="roc_auc", classes=("dark", "lit"))
    return _loaded(network, FeatureSpec("image", ColumnKind.IMAGE, "image"), task, "pixels",
                   path)


def fitted_image_network(path: Path) -> LoadedModel:
    """A small CNN fitted on 8 × 8 grey images (a package can save it: it knows its config)."""
    pytest.importorskip("torch")
    from trainforge.algorithms import catalog

    task = Task(target="label", kind=TaskKind.BINARY, metric="roc_auc", classes=("dark", "lit"))
    params: dict[str, Any] = {"max_epochs": 1, "fixed_epochs": True, "batch_size": 16,
                              "width": 4}
    rng = np.random.default_rng(0)
    level = rng.integers(0, 2, size=32)
    X = np.asarray([png(rng.integers(0, 60, size=(8, 8)) + 120 * v) for v in level],
                   dtype=object)
    network = catalog.get("cnn").build(params, task, 0).fit(X, level)
    return _loaded(network, FeatureSpec("image", ColumnKind.IMAGE, "image"), task, "pixels",
                   path)


def texts(n_texts: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Texts whose first word (alpha, bravo or charlie) is their class, then four others."""
    rng = np.random.default_rng(seed)
    level = rng.integers(0, 3, size=n_texts)
    return [" ".join([WORDS[v], *rng.choice(WORDS[3:], size=4)]) for v in level], level


def text_network(path: Path) -> LoadedModel:
    """A GRU that learned which of three classes a text is from its first word."""
    pytest.importorskip("torch")
    from trainforge.algorithms import catalog

    task = Task(target="kind", kind=TaskKind.MULTICLASS, metric="balanced_accuracy",
                classes=("a", "b", "c"))
    params: dict[str, Any] = {"max_epochs": 6, "fixed_epochs": True, "batch_size": 16,
                              "width": 16}
    X, y = texts(96)
    network = catalog.get("gru").build(params, task, 0).fit(np.asarray(X, dtype=object), y)
    return _loaded(network, FeatureSpec("text", ColumnKind.TEXT, "string"), task, "words",
                   path)
