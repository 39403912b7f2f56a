"""A federation's client, run from Flower's virtualenv:

    python -m trainforge.federated.flower_client --server HOST:PORT --plan PLAN.json \\
        --data TABLE --name NAME

It reads its own table or image rows, checks them against the federation's plan, holds out a
share of them, and answers the coordinator's rounds (``holder_rows``): ``fit`` trains the
global weights on its rows (``local_step``), ``evaluate`` scores them on its held-out rows
with trainforge's own evaluation. Only weights and metrics leave the process, never rows.

Flower's modules are imported here and in ``flower_server`` only; trainforge's own
environment never imports this module (tests/test_layout.py checks both).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import flwr

from trainforge.federated.holder_rows import HolderRows
from trainforge.federated.linear import Weights
from trainforge.federated.networks import initial_weights
from trainforge.federated.parent_watch import exit_with_parent
from trainforge.federated.plan import FederationPlan


class HolderClient(flwr.client.NumPyClient):  # type: ignore[misc]  # flwr is untyped here
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", required=True, help="the coordinator's HOST:PORT")
    parser.add_argument("--plan", required=True, type=Path)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--name", required=True)
    args = parser.parse_args()
    exit_with_parent()
    client = HolderClient(FederationPlan.load(args.plan), args.data, name=args.name)
    flwr.client.start_client(server_address=args.server, client=client.to_client(),
                             insecure=True, max_retries=5, max_wait_time=60.0)


if __name__ == "__main__":
    main()
