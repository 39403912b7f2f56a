"""What a federation runs: the declared schema, the strategy and the local training settings.

The coordinator reads it to configure Flower's strategy, each client to encode its rows and
train alike; JSON both ways, so it crosses from trainforge's environment into Flower's.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trainforge.data.declared_schema import DeclaredSchema

STRATEGIES = ("fedavg", "fedprox", "fedavgm")
MODELS = ("linear", "mlp", "cnn")  # what ``model`` names (federated.networks builds each)
SECURE_THRESHOLD = 0.6  # the share of a secure round's clients whose key shares rebuild a key


def secure_quorum(n_clients: int, threshold: float = SECURE_THRESHOLD) -> int:
    """How many of a secure round's ``n_clients`` must answer each of its steps for it to
    complete: SecAgg+'s reconstruction threshold (``threshold`` of the shares, every client
    holding one, at least 2). The rest may drop out mid-round."""
    return max(round(threshold * n_clients), 2)


@dataclass(frozen=True)
class FederationPlan:
    schema: DeclaredSchema
    strategy: str  # one of STRATEGIES
    rounds: int
    min_clients: int  # a round starts when this many clients are connected
    proximal_mu: float  # FedProx's pull towards the global model (0 for FedAvg)
    local_epochs: int  # passes over its training rows a client makes per round
    batch_size: int
    learning_rate: float
    seed: int
    test_size: float  # the share of its rows each client holds out for evaluation
    round_timeout_s: float  # a round that waits longer for its clients is given up
    # secure aggregation (SecAgg+): the coordinator learns only the sum of the updates
    secure_aggregation: bool = False
    secure_threshold: float = SECURE_THRESHOLD  # see secure_quorum
    # the most training rows one update may weigh under secure aggregation (SecAgg+ scales
    # each update by rows / this before quantising it): the largest holder's rows is exact,
    # a far larger bound costs precision
    secure_max_rows: int = 100_000
    # FedAvgM: the coordinator steps along the running mean of the rounds' average updates
    # (momentum on the server; 0 for FedAvg and FedProx)
    server_momentum: float = 0.0
    model: str = "linear"  # one of MODELS
    # the network's shape, declared up front like the encoding: the MLP's hidden widths, or
    # the CNN's config, its image column and the pixel statistics every holder normalises by
    network: dict[str, Any] = field(default_factory=dict)
    # central differential privacy (federated.flower_privacy): each client's update clipped
    # to dp_clipping_norm, Gaussian noise of dp_noise_multiplier times it on the sum; 0: off
    dp_noise_multiplier: float = 0.0
    dp_clipping_norm: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "schema": self.schema.to_dict()}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FederationPlan:
        return cls(**{**raw, "schema": DeclaredSchema.from_dict(raw["schema"])})

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path

    @classmethod
    def load(cls, path: Path) -> FederationPlan:
        return cls.from_dict(json.loads(path.read_text()))
