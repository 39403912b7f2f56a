"""The networks a federation learns (an MLP for tables, a CNN for images): the weights that
travel are the module's own, they become the catalog's estimators a package serves, the local
step pulls them towards the global model under FedProx, and the model is chosen from the data.
No Flower here: these are the parts both environments run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from tests._paths import EXAMPLES

from trainforge.data.images import read_image_folder
from trainforge.data.read import read_table
from trainforge.errors import ConfigError
from trainforge.federated.local_step import train_locally
from trainforge.federated.networks import (
    build_network,
    encode,
    global_model,
    holder_preprocessor,
    initial_weights,
    load_weights,
)
from trainforge.federated.plan import FederationPlan
from trainforge.federated.planning import declare_table, network_settings
from trainforge.workspace import Workspace


def plan_for(source, target: str, *, model: str = "auto", image_size: int = 0
             ) -> tuple[FederationPlan, pd.DataFrame]:
    dataset = read_image_folder(source) if source.is_dir() else read_table(source)
    declared = declare_table(dataset, target, model=model)
    frame, task, choice = declared.frame, declared.task, declared.choice
    plan = FederationPlan(schema=declared.schema, strategy="fedavg", rounds=2, min_clients=2,
                          proximal_mu=0.0, local_epochs=1, batch_size=32, learning_rate=0.1,
                          seed=0, test_size=0.2, round_timeout_s=60.0, model=choice.model,
                          network=network_settings(choice, frame, task=task,
                                                   image_size=image_size))
    return plan, frame


def network_outputs(plan: FederationPlan, frame: pd.DataFrame) -> np.ndarray:
    """What the module itself gives for ``frame``: softmax probabilities, or the target."""
    module = load_weights(build_network(plan), initial_weights(plan)).eval()
    inputs, _ = encode(frame, plan, holder_preprocessor(plan))
    with torch.no_grad():
        outputs = module(inputs)
    if not plan.schema.task.kind.is_classification:
        return outputs[:, 0].numpy() * plan.schema.target_scale + plan.schema.target_center
    return torch.softmax(outputs, dim=1).numpy()


@pytest.mark.parametrize(("table", "target"), [("credit_g.csv", "class"),
                                               ("wine.csv", "cultivar"),
                                               ("concrete.csv", "compressive_strength")])
def test_the_federated_mlp_predicts_as_the_network_whose_weights_travelled(table, target):
    plan, frame = plan_for(EXAMPLES / table, target, model="mlp")
    model = global_model(initial_weights(plan), plan)
    rows = frame.iloc[:20]
    predicted = (model.predict_proba(rows) if plan.schema.task.kind.is_classification
                 else model.predict(rows))
    assert np.allclose(predicted, network_outputs(plan, rows), atol=1e-4)


@pytest.fixture(scope="module")
def digits() -> tuple[FederationPlan, pd.DataFrame]:
    return plan_for(EXAMPLES / "digits", "label", image_size=14)


def test_an_image_folder_gets_the_cnn_at_the_size_asked(digits):
    plan, _ = digits
    assert plan.model == "cnn" and plan.network["inputs"]["shape"] == [1, 14, 14]


def test_the_federated_cnn_predicts_as_the_network_whose_weights_travelled(digits):
    plan, frame = digits
    rows = frame.iloc[::60]
    model = global_model(initial_weights(plan), plan)
    assert np.allclose(model.predict_proba(rows), network_outputs(plan, rows), atol=1e-5)


@pytest.mark.slow
def test_a_registered_federated_cnn_loads_and_predicts_the_same(digits, tmp_path):
    plan, frame = digits
    model = global_model(initial_weights(plan), plan)
    workspace = Workspace(tmp_path)
    workspace.registry.register(model, name="digits-federated", metrics={}, lineage={})
    loaded = workspace.registry.load("digits-federated").model
    rows = frame.iloc[::60].drop(columns=["label"])
    assert list(loaded.predict(rows)) == list(model.predict(rows))


def test_a_registered_federated_mlp_loads_and_predicts_the_same(tmp_path):
    plan, frame = plan_for(EXAMPLES / "wine.csv", "cultivar", model="mlp")
    model = global_model(initial_weights(plan), plan)
    workspace = Workspace(tmp_path)
    workspace.registry.register(model, name="wine-federated", metrics={}, lineage={})
    loaded = workspace.registry.load("wine-federated").model
    assert np.allclose(loaded.predict_proba(frame.iloc[:30]), model.predict_proba(frame.iloc[:30]))


@pytest.mark.slow
def test_fedprox_keeps_a_networks_update_nearer_the_global_weights(digits):
    plan, frame = digits
    inputs, targets = encode(frame.iloc[:200], plan, holder_preprocessor(plan))
    start = initial_weights(plan)

    def drift(mu: float) -> float:
        update = train_locally(build_network(plan), start, inputs, targets, classification=True,
                               epochs=3, batch_size=16, learning_rate=0.2, proximal_mu=mu,
                               seed=0).weights
        return float(sum(((u - s) ** 2).sum() for u, s in zip(update, start, strict=True)))

    assert drift(2.0) < 0.5 * drift(0.0)


def test_weights_of_another_shape_are_refused_naming_the_parameter(digits):
    plan, _ = digits
    weights = initial_weights(plan)
    weights[0] = np.zeros((3, 3), dtype=np.float32)
    with pytest.raises(ConfigError, match=r"weight array for 'net\.features\.0\.weight'"):
        load_weights(build_network(plan), weights)


def test_a_cnn_asked_for_a_table_is_refused_naming_the_table():
    with pytest.raises(ConfigError, match="--model cnn reads images, and .*credit_g.csv has no "
                                          "image column"):
        plan_for(EXAMPLES / "credit_g.csv", "class", model="cnn")


def test_a_table_model_asked_for_images_is_refused_saying_to_use_the_cnn():
    with pytest.raises(ConfigError, match="--model mlp .* images only; use --model cnn"):
        plan_for(EXAMPLES / "digits", "label", model="mlp")
