"""One data holder's answers to the coordinator's rounds, run in the ClientApp's process (see
``flower_client``): it reads the holder's own table, checks it against the federation's
declared schema and holds out a share of its rows; ``fit`` trains the global weights on its
rows (``local_step``), ``evaluate`` scores them on its held-out rows with trainforge's own
evaluation. Only weights and metrics leave the process, never rows.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from flwr.client import NumPyClient

from trainforge.data.read import read_table
from trainforge.data.splits import train_test_split
from trainforge.evaluation.evaluate import evaluate
from trainforge.federated.linear import Weights, encode, global_model, initial_weights
from trainforge.federated.plan import FederationPlan


class HolderClient(NumPyClient):  # type: ignore[misc]  # flwr is untyped here
    """One data holder: its training rows and held-out rows, encoded as declared."""

    def __init__(self, plan: FederationPlan, data: Path, *, name: str) -> None:
        self.plan, self.name = plan, name
        schema = plan.schema
        frame = read_table(data).frame
        schema.check(frame, source=str(data))
        frame = frame.loc[frame[schema.task.target].notna()]
        train, self.held_out = train_test_split(frame, schema.task, test_size=plan.test_size,
                                                seed=plan.seed)
        self.preprocessor = schema.preprocessor()
        self.inputs, self.targets = encode(train, schema, self.preprocessor)

    def get_parameters(self, config: dict[str, Any]) -> Weights:
        return initial_weights(self.plan.schema)

    def fit(self, parameters: Weights, config: dict[str, Any]
            ) -> tuple[Weights, int, dict[str, Any]]:
        # PyTorch only where a round trains: Flower starts a process for every message, and
        # an evaluation should not pay its import
        from trainforge.federated.local_step import train_locally

        started = time.perf_counter()
        result = train_locally(
            parameters, self.inputs, self.targets,
            classification=self.plan.schema.task.kind.is_classification,
            epochs=self.plan.local_epochs, batch_size=self.plan.batch_size,
            learning_rate=self.plan.learning_rate,
            proximal_mu=float(config.get("proximal_mu", 0.0)),
            seed=self.plan.seed * 1_000 + int(config.get("round", 0)))
        return result.weights, result.n_rows, {
            "client": self.name, "train_loss": result.train_loss,
            "fit_s": time.perf_counter() - started}

    def evaluate(self, parameters: Weights, config: dict[str, Any]
                 ) -> tuple[float, int, dict[str, Any]]:
        schema = self.plan.schema
        model = global_model(parameters, schema, preprocessor=self.preprocessor)
        metrics = evaluate(model, self.held_out, source=self.name).metrics
        inputs, targets = encode(self.held_out, schema, self.preprocessor)
        return _loss(parameters, inputs, targets, classification=schema.task.kind.is_classification
                     ), len(self.held_out), {"client": self.name, **metrics}


def _loss(weights: Weights, inputs: np.ndarray, targets: np.ndarray, *,
          classification: bool) -> float:
    """The training objective on held-out rows: cross-entropy, or MSE of the scaled target."""
    outputs = inputs @ np.asarray(weights[0]).T + np.asarray(weights[1])
    if not classification:
        return float(np.mean((outputs[:, 0] - targets) ** 2))
    outputs = outputs - outputs.max(axis=1, keepdims=True)
    log_proba = outputs - np.log(np.exp(outputs).sum(axis=1, keepdims=True))
    return float(-log_proba[np.arange(len(targets)), targets].mean())
