"""A federation's coordinator, run from Flower's virtualenv:

    python -m trainforge.federated.flower_server --plan PLAN.json --address HOST:PORT --out DIR

It serves Flower's gRPC on ``--address`` and runs the plan's rounds with Flower's own FedAvg or
FedProx. After each round it appends one JSON line to ``DIR/rounds.jsonl`` (each client's
rows, losses, metrics and update size; the weighted means), which trainforge reads as the
round goes; after the last, the global weights go to ``DIR/weights.npz`` (plain arrays,
read back without pickle).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import flwr
import numpy as np
from flwr.common import ndarrays_to_parameters, parameters_to_ndarrays
from flwr.server.strategy import FedAvg, FedProx, Strategy

from trainforge.federated.flower_privacy import with_central_privacy
from trainforge.federated.networks import initial_weights
from trainforge.federated.parent_watch import exit_with_parent
from trainforge.federated.plan import FederationPlan
from trainforge.federated.processes import ROUNDS_FILE, WEIGHTS_FILE


def weighted_means(results: Sequence[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """Each numeric metric averaged over the clients, weighted by their rows."""
    total = sum(n for n, _ in results) or 1
    names = {k for _, metrics in results for k, v in metrics.items()
             if isinstance(v, int | float) and not isinstance(v, bool)}
    return {name: sum(n * float(m.get(name, 0.0)) for n, m in results) / total
            for name in sorted(names)}


def _payload_bytes(parameters: Any) -> int:
    return sum(len(tensor) for tensor in parameters.tensors)


class RecordingStrategy(Strategy):  # type: ignore[misc]  # flwr is untyped here
    """Flower's strategy, unchanged, with each round written down as it ends."""

    def __init__(self, inner: Strategy, out: Path) -> None:
        self.inner, self.out = inner, out
        self.round_started = 0.0
        self.fits: dict[str, dict[str, Any]] = {}
        self.latest: Any = None
        self.sent_bytes = 0
        self.fit_failures = 0

    def initialize_parameters(self, client_manager: Any) -> Any:
        return self.inner.initialize_parameters(client_manager)

    def configure_fit(self, server_round: int, parameters: Any, client_manager: Any) -> Any:
        # the clock starts once the clients are sampled: waiting for them to connect (their
        # start, on the first round) is not the round's cost
        instructions = self.inner.configure_fit(server_round, parameters, client_manager)
        self.round_started, self.sent_bytes = time.time(), _payload_bytes(parameters)
        for _, fit_ins in instructions:
            fit_ins.config["round"] = server_round
        return instructions

    def aggregate_fit(self, server_round: int, results: list[Any], failures: list[Any]) -> Any:
        self.fits = {str(res.metrics.get("client", proxy.cid)): {
            "n_train": res.num_examples, "train_loss": res.metrics.get("train_loss"),
            "fit_s": res.metrics.get("fit_s"), "bytes_down": self.sent_bytes,
            "bytes_up": _payload_bytes(res.parameters)} for proxy, res in results}
        aggregated, metrics = self.inner.aggregate_fit(server_round, results, failures)
        if aggregated is not None:
            self.latest = aggregated
        self.fit_failures = len(failures)
        return aggregated, metrics

    def configure_evaluate(self, server_round: int, parameters: Any, client_manager: Any) -> Any:
        return self.inner.configure_evaluate(server_round, parameters, client_manager)

    def aggregate_evaluate(self, server_round: int, results: list[Any],
                           failures: list[Any]) -> Any:
        loss, metrics = self.inner.aggregate_evaluate(server_round, results, failures)
        clients = {name: dict(fit) for name, fit in self.fits.items()}
        for proxy, res in results:
            name = str(res.metrics.get("client", proxy.cid))
            clients.setdefault(name, {}).update(
                {"n_test": res.num_examples, "loss": res.loss,
                 **{k: v for k, v in res.metrics.items() if k != "client"}})
        line = {"round": server_round, "seconds": time.time() - self.round_started,
                "loss": loss, "metrics": metrics,
                "train_loss": weighted_means([(fit["n_train"], fit) for fit in self.fits.values()
                                              ]).get("train_loss"),
                "clients": clients, "failures": self.fit_failures + len(failures)}
        with (self.out / ROUNDS_FILE).open("a") as rounds:
            rounds.write(json.dumps(line) + "\n")
        return loss, metrics

    def evaluate(self, server_round: int, parameters: Any) -> Any:
        return self.inner.evaluate(server_round, parameters)


def build_strategy(plan: FederationPlan) -> Strategy:
    """Flower's FedAvg or FedProx, waiting for ``min_clients``, every client in every round."""
    common: dict[str, Any] = {
        "fraction_fit": 1.0, "fraction_evaluate": 1.0, "min_fit_clients": plan.min_clients,
        "min_evaluate_clients": plan.min_clients, "min_available_clients": plan.min_clients,
        "initial_parameters": ndarrays_to_parameters(initial_weights(plan)),
        "fit_metrics_aggregation_fn": weighted_means,
        "evaluate_metrics_aggregation_fn": weighted_means}
    if plan.strategy == "fedprox":
        return FedProx(proximal_mu=plan.proximal_mu, **common)
    return FedAvg(**common)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plan", required=True, type=Path)
    parser.add_argument("--address", required=True, help="HOST:PORT to serve gRPC on")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    exit_with_parent()
    plan = FederationPlan.load(args.plan)
    strategy = RecordingStrategy(with_central_privacy(build_strategy(plan), plan), args.out)
    flwr.server.start_server(
        server_address=args.address, strategy=strategy,
        config=flwr.server.ServerConfig(num_rounds=plan.rounds,
                                        round_timeout=plan.round_timeout_s))
    if strategy.latest is None:
        raise SystemExit("no round completed: no client sent an update")
    np.savez(args.out / WEIGHTS_FILE, *parameters_to_ndarrays(strategy.latest))


if __name__ == "__main__":
    main()
