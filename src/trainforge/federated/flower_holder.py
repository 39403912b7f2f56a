"""One data holder's answers to the coordinator's rounds, run in the ClientApp's process (see
``flower_client``): it reads the holder's own table, checks it against the federation's
plan and holds out a share of its rows (``holder_rows``); ``fit`` trains the global weights on
its rows (``local_step``), ``evaluate`` scores them on its held-out rows with trainforge's own
evaluation. Only weights and metrics leave the process, never rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flwr.client import NumPyClient

from trainforge.federated.holder_rows import HolderRows
from trainforge.federated.linear import Weights
from trainforge.federated.networks import initial_weights
from trainforge.federated.plan import FederationPlan


class HolderClient(NumPyClient):  # type: ignore[misc]  # flwr is untyped here
    """One data holder (``holder_rows``) answering the coordinator's rounds."""

    def __init__(self, plan: FederationPlan, data: Path, *, name: str) -> None:
        self.plan, self.rows = plan, HolderRows(plan, data, name=name)

    def get_parameters(self, config: dict[str, Any]) -> Weights:
        return initial_weights(self.plan)

    def fit(self, parameters: Weights, config: dict[str, Any]
            ) -> tuple[Weights, int, dict[str, Any]]:
        return self.rows.fit(parameters, round_number=int(config.get("round", 0)),
                             proximal_mu=float(config.get("proximal_mu", 0.0)))

    def evaluate(self, parameters: Weights, config: dict[str, Any]
                 ) -> tuple[float, int, dict[str, Any]]:
        return self.rows.evaluate(parameters)
