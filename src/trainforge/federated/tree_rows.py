"""One data holder's side of a tree federation's round (``federated.trees``): its rows read,
checked and split as every holder's are (``holder_split``) and encoded once by
the declared preprocessor; ``fit`` boosts the global booster's next trees on the training
rows and returns only those, ``evaluate`` scores the global model on the held-out rows with
trainforge's own evaluation. Only trees and figures leave, never rows.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from trainforge.evaluation.evaluate import evaluate
from trainforge.federated import linear, trees
from trainforge.federated.holder_split import holder_split
from trainforge.federated.linear import Weights
from trainforge.federated.plan import FederationPlan


class TreeRows:
    """A holder's training rows (encoded as the plan declares) and its held-out rows."""

    def __init__(self, plan: FederationPlan, data: Path, *, name: str) -> None:
        self.plan, self.name = plan, name
        train, self.held_out = holder_split(plan, data)
        self.preprocessor = plan.schema.preprocessor()
        self.inputs = linear.encode(train, plan.schema, self.preprocessor)[0]
        self.labels = trees.targets(train, plan.schema)

    def fit(self, weights: Weights, *, round_number: int
            ) -> tuple[Weights, int, dict[str, Any]]:
        """The trees this holder adds to ``weights``, its row count, and what the round
        records of it (its training loss: the grown booster's, on its own rows)."""
        started = time.perf_counter()
        plan = self.plan
        added = trees.boost_locally(plan, weights, self.inputs, self.labels,
                                    seed=plan.seed * 1_000 + round_number)
        own = trees.aggregate(weights, [(added, len(self.labels))])  # as if alone this round
        loss = trees.held_out_loss(trees.load_booster(own), self.inputs, self.labels,
                                   schema=plan.schema)
        return added, len(self.labels), {"client": self.name, "train_loss": loss,
                                         "fit_s": time.perf_counter() - started}

    def evaluate(self, weights: Weights) -> tuple[float, int, dict[str, Any]]:
        """The loss and metrics of the global model on the held-out rows."""
        plan = self.plan
        model = trees.global_model(weights, plan, preprocessor=self.preprocessor)
        metrics = evaluate(model, self.held_out, source=self.name).metrics
        inputs = linear.encode(self.held_out, plan.schema, self.preprocessor)[0]
        loss = trees.held_out_loss(trees.load_booster(weights), inputs,
                                   trees.targets(self.held_out, plan.schema),
                                   schema=plan.schema)
        return loss, len(self.held_out), {"client": self.name, **metrics}
