"""``Model.explain``: the SDK's per-row contributions, in the model's output units."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.serving.models import adult, trainforge_pipeline

import trainforge as tf
from trainforge.algorithms.model import FeatureSpec, Member, TabularModel
from trainforge.algorithms.network import NetworkModel
from trainforge.algorithms.network_inputs import ImageInputs
from trainforge.data.dataset import ColumnKind
from trainforge.data.task import Task, TaskKind
from trainforge.errors import NotExplainable
from trainforge.registry.loaded import LoadedModel
from trainforge.workspace import Workspace


@pytest.fixture
def model(tmp_path: Path) -> tf.Model:
    rows = adult(500)
    workspace = Workspace(tmp_path)
    workspace.registry.register(trainforge_pipeline(rows, tmp_path).model, name="adult",
                                metrics={}, lineage={})
    return tf.load("adult", workspace=workspace)


def test_explain_gives_contributions_that_add_up_to_predict_proba(model: tf.Model):
    rows = adult(40).drop(columns=["class"])
    explained = model.explain(rows)
    assert explained.values.shape == (40, 2, len(rows.columns))
    assert explained.outputs == model.classes
    assert np.abs(explained.explained - model.predict_proba(rows).to_numpy()).max() < 1e-6


@pytest.fixture
def image_model(tmp_path: Path) -> tf.Model:
    torch = pytest.importorskip("torch")
    network = NetworkModel(architecture="cnn", task_kind="binary", n_classes=2)
    network.module_ = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
    network.inputs_ = ImageInputs(shape=(1, 8, 8), mean=[0.5], std=[0.25])
    task = Task(target="label", kind=TaskKind.BINARY, metric="roc_auc", classes=("a", "b"))
    model = TabularModel(task=task, features=[FeatureSpec("image", ColumnKind.IMAGE, "image")],
                         members=[Member(algorithm="cnn", params={}, preprocessor=None,
                                         estimator=network)])
    return tf.Model(LoadedModel(name="shapes", version=1, model=model, manifest={},
                                path=tmp_path))


def test_explain_images_draws_one_heat_map_per_image(image_model: tf.Model, tmp_path: Path):
    from PIL import Image

    images = []
    for i in range(2):
        images.append(tmp_path / f"{i}.png")
        Image.fromarray(np.full((8, 8), 40 * i, dtype=np.uint8), mode="L").save(images[-1])
    drawn = image_model.explain_images(images, folder=tmp_path / "maps")
    assert [p.name for p in drawn] == ["0000-0.png", "0001-1.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in drawn)


def test_explain_texts_of_an_image_network_says_what_it_explains(image_model: tf.Model):
    with pytest.raises(NotExplainable, match="not a network that reads text"):
        image_model.explain_texts(["some words"])
