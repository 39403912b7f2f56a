"""The models a federation learns, as PyTorch modules: what travels, and what is registered.

Three, as the plan's ``model`` names them:

- ``linear``: one linear layer on the declared encoding (softmax or scaled regression);
- ``mlp``: the catalog's multi-layer perceptron (ReLU layers of ``algorithms.neural``'s
  widths) on the same encoding;
- ``cnn``: the catalog's ``simple_cnn`` on an image column, its pixels normalised by
  statistics the coordinator declares, so every holder feeds the network alike. Not the
  residual CNN: BatchNorm's running statistics are no weights FedAvg can average, and
  holders with different classes would each pull them their own way.

What travels each round is the module's parameters as numpy arrays, in the order of its
state_dict (the pixel statistics, buffers declared in the plan, never travel). After the last
round the weights become what the catalog would have trained: a scikit-learn logistic or ridge
regression, an ``MLPClassifier``/``MLPRegressor``, or a ``NetworkModel``; so the registered
package, serving and ``trainforge predict`` need no federated case.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import LabelBinarizer
from torch import nn

from trainforge.algorithms.model import Member, TabularModel, feature_specs
from trainforge.algorithms.network import NetworkModel
from trainforge.algorithms.network_inputs import ImageInputs, inputs_from_dict
from trainforge.algorithms.network_parts import build_module
from trainforge.algorithms.neural import DEFAULTS as MLP_DEFAULTS
from trainforge.data.dataset import ColumnKind
from trainforge.data.declared_schema import DeclaredSchema
from trainforge.data.raw_column import RawColumn
from trainforge.errors import ConfigError
from trainforge.federated import linear
from trainforge.federated.linear import Weights, n_outputs
from trainforge.federated.plan import FederationPlan

# smaller than the catalog's simple_cnn ([32, 64], 128): ten holders train at once on a few
# cores, and a round costs what the slowest of them takes
CNN_SETTINGS: dict[str, Any] = {"widths": [16, 32], "hidden": 64, "dropout": 0.0}


def mlp_settings() -> dict[str, Any]:
    """The MLP's hidden widths: the catalog MLP's defaults (two layers of 128)."""
    return {"hidden": [int(MLP_DEFAULTS["width"])] * int(MLP_DEFAULTS["depth"])}


def cnn_settings(column: str, inputs: ImageInputs, *, n_classes: int) -> dict[str, Any]:
    """The CNN's config for images as ``inputs`` declares them (shape and pixel statistics)."""
    channels = inputs.shape[0]
    config = {"kind": "simple_cnn", "in_channels": channels, "n_outputs": n_classes,
              **CNN_SETTINGS, "normalise": {"mean": inputs.mean, "std": inputs.std}}
    return {"column": column, "inputs": inputs.to_dict(), "config": config}


def build_network(plan: FederationPlan) -> nn.Module:
    """The plan's module with fresh weights (seeded by torch's global generator)."""
    if plan.model == "cnn":
        module: nn.Module = build_module(dict(plan.network["config"]))
        return module
    width = plan.schema.preprocessor().n_features_out_
    outputs = n_outputs(plan.schema)
    if plan.model == "linear":
        return nn.Linear(width, outputs)
    if plan.model != "mlp":
        raise ConfigError(f"the federation's model {plan.model!r} is not one of linear, mlp, "
                          "cnn")
    layers: list[nn.Module] = []
    previous = width
    for hidden in plan.network["hidden"]:
        layers += [nn.Linear(previous, int(hidden)), nn.ReLU()]
        previous = int(hidden)
    return nn.Sequential(*layers, nn.Linear(previous, outputs))


def weights_of(module: nn.Module) -> Weights:
    """The module's parameters as arrays, in state_dict order: what a round sends."""
    return [parameter.detach().cpu().numpy().copy() for parameter in module.parameters()]


def load_weights(module: nn.Module, weights: Weights) -> nn.Module:
    """Put ``weights`` (as ``weights_of`` orders them) into ``module``; a count or shape that
    differs is refused, naming the parameter."""
    named = list(module.named_parameters())
    if len(named) != len(weights):
        raise ConfigError(f"the federation sent {len(weights)} weight arrays; this model has "
                          f"{len(named)} parameters ({', '.join(n for n, _ in named)})")
    with torch.no_grad():
        for (name, parameter), array in zip(named, weights, strict=True):
            values = torch.as_tensor(np.asarray(array, dtype=np.float32))
            if tuple(values.shape) != tuple(parameter.shape):
                raise ConfigError(f"weight array for {name!r} has shape {tuple(values.shape)}, "
                                  f"the model's is {tuple(parameter.shape)}")
            parameter.copy_(values)
    return module


def initial_weights(plan: FederationPlan) -> Weights:
    """Where round one starts: zeros for the linear model (its loss is convex), a seeded
    random start for the networks (zeros would leave every hidden unit alike)."""
    if plan.model == "linear":
        return linear.initial_weights(plan.schema)
    torch.manual_seed(plan.seed)
    return weights_of(build_network(plan))


def encode(frame: pd.DataFrame, plan: FederationPlan,
           preprocessor: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """A holder's rows as (inputs, targets) tensors: the declared encoding for tables, pixels
    in [0, 1] (the network normalises them) for images."""
    schema = plan.schema
    if plan.model == "cnn":
        images = ImageInputs.from_dict(plan.network["inputs"])
        pixels: torch.Tensor = images.encode(frame[plan.network["column"]].tolist())[0]
        return pixels, torch.as_tensor(linear.targets_of(frame, schema))
    inputs, targets = linear.encode(frame, schema, preprocessor)
    return torch.as_tensor(inputs), torch.as_tensor(targets)


def holder_preprocessor(plan: FederationPlan) -> Any:
    """What turns a holder's table into the model's input: the declared table encoding, or
    the image column picked as it is (the network reads the files itself)."""
    if plan.model == "cnn":
        column = str(plan.network["column"])
        return RawColumn([(column, ColumnKind.IMAGE.value)], kind="image").fit(
            pd.DataFrame({column: []}))
    return plan.schema.preprocessor()


def global_model(weights: Weights, plan: FederationPlan) -> TabularModel:
    """The federation's model as the catalog's: the preprocessor, then the estimator the
    weights make (see the module docstring)."""
    schema = plan.schema
    if plan.model == "linear":
        return linear.global_model(weights, schema)
    if plan.model == "mlp":
        estimator: Any = as_mlp(weights, schema)
        features = feature_specs(schema.schema, schema.features)
    else:
        estimator = as_network(weights, plan)
        column = str(plan.network["column"])
        features = feature_specs({column: ColumnKind.IMAGE}, [column])
    member = Member(algorithm=plan.model, params={"federated": True},
                    preprocessor=holder_preprocessor(plan), estimator=estimator)
    return TabularModel(task=schema.task, features=features, members=[member])


def as_mlp(weights: Weights, schema: DeclaredSchema) -> MLPClassifier | MLPRegressor:
    """The weights as the fitted scikit-learn MLP they are (ReLU layers, then softmax, a
    sigmoid on the difference of two classes' rows, or the target in its own units)."""
    matrices = [np.asarray(w, dtype=np.float64) for w in weights[0::2]]
    biases = [np.asarray(b, dtype=np.float64) for b in weights[1::2]]
    hidden = tuple(len(b) for b in biases[:-1])
    estimator: MLPClassifier | MLPRegressor
    if schema.task.kind.is_classification:
        classes = np.arange(len(schema.task.classes))
        estimator = MLPClassifier(hidden_layer_sizes=hidden)
        estimator.classes_ = classes
        estimator._label_binarizer = LabelBinarizer().fit(classes)  # what predict decodes by
        if len(classes) == 2:
            matrices[-1] = (matrices[-1][1] - matrices[-1][0])[None, :]
            biases[-1] = np.asarray([biases[-1][1] - biases[-1][0]])
            estimator.out_activation_ = "logistic"
        else:
            estimator.out_activation_ = "softmax"
    else:
        estimator = MLPRegressor(hidden_layer_sizes=hidden)
        matrices[-1] = matrices[-1] * schema.target_scale
        biases[-1] = biases[-1] * schema.target_scale + schema.target_center
        estimator.out_activation_ = "identity"
    estimator.coefs_ = [matrix.T for matrix in matrices]  # scikit-learn: inputs × outputs
    estimator.intercepts_ = biases
    estimator.n_layers_ = len(matrices) + 1
    estimator.n_outputs_ = matrices[-1].shape[0]
    estimator.n_features_in_ = matrices[0].shape[1]
    estimator.n_iter_ = 0
    return estimator


def as_network(weights: Weights, plan: FederationPlan) -> NetworkModel:
    """The CNN's weights as the catalog's ``NetworkModel`` (saved as safetensors + JSON)."""
    task = plan.schema.task
    model = NetworkModel(architecture="cnn", task_kind=task.kind.value,
                         n_classes=max(1, len(task.classes)), max_epochs=plan.rounds,
                         batch_size=plan.batch_size, learning_rate=plan.learning_rate,
                         optimizer="sgd", schedule="constant", seed=plan.seed, fixed_epochs=True,
                         torch_threads=1)
    model.config_ = dict(plan.network["config"])
    model.inputs_ = inputs_from_dict(plan.network["inputs"])
    model.module_ = load_weights(build_network(plan), weights).eval()
    model.history_ = {"epochs": [], "best_epoch": plan.rounds, "resumed_at_step": None,
                      "stopped_because": "the federation's last round", "privacy": None}
    model.best_iteration_ = model.iterations_run_ = plan.rounds
    model.stopped_by_time_ = False
    model.privacy_ = None
    model.target_mean_ = plan.schema.target_center
    model.target_scale_ = plan.schema.target_scale
    model.classes_ = np.arange(model.n_classes) if model.is_classifier else None
    return model
