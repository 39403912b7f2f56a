"""A tree federation on Flower: the coordinator's strategy and the holder's client.

``TreeBagging`` is Flower's ``FedXgbBagging`` (every sampled client boosts on its own rows
from the global booster each round; the coordinator keeps the global booster, sends it whole
and appends what comes back), with trainforge's aggregation (``federated.trees.aggregate``:
every class's trees of a multiclass iteration, each tree weighted by its share of the round's
hessian for its class) in place of Flower's, which appends one tree per client. The booster travels as one NumPy array
of its JSON (``trees.as_array``), so FedAvg's serialisation, metering and recording apply.

``TreeHolderClient`` answers the rounds with the holder's ``TreeRows``. Imported by
``flower_server`` and, when a message needs the holder, by ``flower_client``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flwr.client import NumPyClient
from flwr.common import ndarrays_to_parameters, parameters_to_ndarrays
from flwr.server.strategy import FedXgbBagging

from trainforge.federated import trees
from trainforge.federated.linear import Weights
from trainforge.federated.plan import FederationPlan
from trainforge.federated.tree_rows import TreeRows


class TreeBagging(FedXgbBagging):  # type: ignore[misc]  # flwr is untyped here
    """Flower's XGBoost bagging, aggregating with ``trees.aggregate``."""

    def __init__(self, *, plan: FederationPlan, **settings: Any) -> None:
        start = trees.initial_weights(plan)
        super().__init__(initial_parameters=ndarrays_to_parameters(start), **settings)
        self.global_weights: Weights = start

    def aggregate_fit(self, server_round: int, results: list[Any],
                      failures: list[Any]) -> tuple[Any, dict[str, Any]]:
        if not results or (failures and not self.accept_failures):
            return None, {}
        updates = [(parameters_to_ndarrays(res.parameters), int(res.num_examples))
                   for _, res in results]
        self.global_weights = trees.aggregate(self.global_weights, updates)
        metrics = (self.fit_metrics_aggregation_fn([(res.num_examples, res.metrics)
                                                    for _, res in results])
                   if self.fit_metrics_aggregation_fn else {})
        return ndarrays_to_parameters(self.global_weights), metrics

    def aggregate_evaluate(self, server_round: int, results: list[Any],
                           failures: list[Any]) -> tuple[float | None, dict[str, Any]]:
        """The holders' held-out loss and metrics, weighted by their rows (Flower's bagging
        reports a loss of 0)."""
        if not results:
            return None, {}
        total = sum(res.num_examples for _, res in results) or 1
        loss = sum(res.num_examples * res.loss for _, res in results) / total
        metrics = (self.evaluate_metrics_aggregation_fn([(res.num_examples, res.metrics)
                                                         for _, res in results])
                   if self.evaluate_metrics_aggregation_fn else {})
        return loss, metrics


class TreeHolderClient(NumPyClient):  # type: ignore[misc]  # flwr is untyped here
    """One data holder (``tree_rows``) answering a tree federation's rounds."""

    def __init__(self, plan: FederationPlan, data: Path, *, name: str) -> None:
        self.plan, self.rows = plan, TreeRows(plan, data, name=name)

    def get_parameters(self, config: dict[str, Any]) -> Weights:
        return trees.initial_weights(self.plan)

    def fit(self, parameters: Weights, config: dict[str, Any]
            ) -> tuple[Weights, int, dict[str, Any]]:
        return self.rows.fit(parameters, round_number=int(config.get("round", 0)))

    def evaluate(self, parameters: Weights, config: dict[str, Any]
                 ) -> tuple[float, int, dict[str, Any]]:
        return self.rows.evaluate(parameters)
