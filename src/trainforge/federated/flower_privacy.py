"""Central differential privacy for a federation, run from Flower's virtualenv: the plan's
strategy wrapped in Flower's ``DifferentialPrivacyServerSideFixedClipping``.

Each round the coordinator clips every client's update (its weights minus the round's global
weights) to ``plan.dp_clipping_norm`` in L2 norm, averages the clipped updates, and adds
Gaussian noise of standard deviation ``dp_noise_multiplier * dp_clipping_norm / m`` to the
average, m being the clients a round waits for. Trainforge calibrated the multiplier before any
process started (``federated.central_privacy``), so that the planned rounds spend the user's
(ε, δ); that guarantee is per client (user-level): it covers everything one holder sent.

The noise is sized for an average in which each client weighs 1/m, so under DP the updates
are averaged with equal weights, not by rows: weighted by rows, a holder with most of the rows
could move the average by nearly its whole clipped update, far beyond what the noise hides.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flwr.server.strategy import DifferentialPrivacyServerSideFixedClipping, Strategy

from trainforge.federated.plan import FederationPlan


def with_central_privacy(strategy: Strategy, plan: FederationPlan) -> Strategy:
    """``strategy`` as it is without a DP budget in the plan; else clipped, averaged with equal
    weights and noised as the module docstring says."""
    if plan.dp_noise_multiplier <= 0:
        return strategy
    return DifferentialPrivacyServerSideFixedClipping(
        EqualWeights(strategy), noise_multiplier=plan.dp_noise_multiplier,
        clipping_norm=plan.dp_clipping_norm, num_sampled_clients=plan.min_clients)


class EqualWeights(Strategy):  # type: ignore[misc]  # flwr is untyped here
    """``inner``, aggregating every client's update with the same weight (one row each)."""

    def __init__(self, inner: Strategy) -> None:
        super().__init__()
        self.inner = inner

    def initialize_parameters(self, client_manager: Any) -> Any:
        return self.inner.initialize_parameters(client_manager)

    def configure_fit(self, server_round: int, parameters: Any, client_manager: Any) -> Any:
        return self.inner.configure_fit(server_round, parameters, client_manager)

    def aggregate_fit(self, server_round: int, results: list[Any], failures: list[Any]) -> Any:
        equal = [(proxy, dataclasses.replace(res, num_examples=1)) for proxy, res in results]
        return self.inner.aggregate_fit(server_round, equal, failures)

    def configure_evaluate(self, server_round: int, parameters: Any, client_manager: Any) -> Any:
        return self.inner.configure_evaluate(server_round, parameters, client_manager)

    def aggregate_evaluate(self, server_round: int, results: list[Any],
                           failures: list[Any]) -> Any:
        return self.inner.aggregate_evaluate(server_round, results, failures)

    def evaluate(self, server_round: int, parameters: Any) -> Any:
        return self.inner.evaluate(server_round, parameters)
