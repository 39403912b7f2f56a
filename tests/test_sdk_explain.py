"""``Model.explain``: the SDK's per-row contributions, in the model's output units."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.serving.models import adult, trainforge_pipeline

import trainforge as tf
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
