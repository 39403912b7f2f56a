"""One data holder's side of a round, whatever carries it (Flower's client today): its own rows
read and checked against the federation's plan, a share held out, the rest encoded once; then
``fit`` trains the global weights on them and ``evaluate`` scores the global model on the
held-out rows with trainforge's own evaluation. Only weights and figures leave, never rows.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from trainforge.evaluation.evaluate import evaluate
from trainforge.federated.holder_split import holder_split
from trainforge.federated.linear import Weights
from trainforge.federated.local_step import held_out_loss, train_locally
from trainforge.federated.networks import build_network, encode, global_model, holder_preprocessor
from trainforge.federated.plan import FederationPlan


class HolderRows:
    """A holder's training rows (encoded as the plan declares) and its held-out rows."""

    def __init__(self, plan: FederationPlan, data: Path, *, name: str) -> None:
        self.plan, self.name = plan, name
        train, self.held_out = holder_split(plan, data)
        self.preprocessor = holder_preprocessor(plan)
        self.module = build_network(plan)
        self.inputs, self.targets = encode(train, plan, self.preprocessor)

    def fit(self, weights: Weights, *, round_number: int, proximal_mu: float
            ) -> tuple[Weights, int, dict[str, Any]]:
        """The update after the plan's local epochs, its row count, and what the round
        records of it."""
        started = time.perf_counter()
        plan = self.plan
        result = train_locally(
            self.module, weights, self.inputs, self.targets,
            classification=plan.schema.task.kind.is_classification, epochs=plan.local_epochs,
            batch_size=plan.batch_size, learning_rate=plan.learning_rate,
            proximal_mu=proximal_mu, seed=plan.seed * 1_000 + round_number)
        return result.weights, result.n_rows, {
            "client": self.name, "train_loss": result.train_loss,
            "fit_s": time.perf_counter() - started}

    def evaluate(self, weights: Weights) -> tuple[float, int, dict[str, Any]]:
        """The loss and metrics of the global model on the held-out rows."""
        plan = self.plan
        metrics = evaluate(global_model(weights, plan), self.held_out, source=self.name).metrics
        inputs, targets = encode(self.held_out, plan, self.preprocessor)
        loss = held_out_loss(self.module, weights, inputs, targets,
                             classification=plan.schema.task.kind.is_classification)
        return loss, len(self.held_out), {"client": self.name, **metrics}
