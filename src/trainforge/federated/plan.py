"""What a federation runs: the declared schema, the strategy and the local training settings.

The coordinator reads it to configure Flower's strategy, each client to encode its rows and
train alike; JSON both ways, so it crosses from trainforge's environment into Flower's.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trainforge.data.declared_schema import DeclaredSchema
from trainforge.errors import ConfigError

# FedAvg, FedProx and FedAvgM average weights; trees are bagged (federated.trees), whatever
# was asked
TREE_STRATEGY = "xgb-bagging"
STRATEGIES = ("fedavg", "fedprox", "fedavgm", TREE_STRATEGY)
# what ``model`` names: federated.networks builds the first three, federated.trees the last
MODELS = ("linear", "mlp", "cnn", "xgboost")
SECURE_THRESHOLD = 0.6  # the share of a secure round's clients whose key shares rebuild a key


def secure_quorum(n_clients: int, threshold: float = SECURE_THRESHOLD) -> int:
    """How many of a secure round's ``n_clients`` must answer each of its steps for it to
    complete: SecAgg+'s reconstruction threshold (``threshold`` of the shares, every client
    holding one, at least 2). The rest may drop out mid-round."""
    return max(round(threshold * n_clients), 2)


# ``--strategy auto`` for models that average weights: FedAvgM (momentum on the coordinator)
# from this many rounds on, FedAvg below. Momentum carries the direction the rounds agree on,
# which takes rounds to build: on label-skewed holders (Dirichlet 0.5 and 0.1, 10 holders;
# satimage, telco_churn, splice, credit_data and MNIST) it closed most of the gap to pooled
# training after 20-30 rounds, and in the first 10 its overshoot cost as much as it gained
# (benchmarks/federated/tables_in_process.py, fedavg_in_process.py; RESULTS.md)
AUTO_MOMENTUM_ROUNDS = 20
# ... and with FedAvgM it keeps the mean of the global weights over this share of the last
# rounds (federated.kept_model), not the last round's: momentum's global model swings from
# round to round on such holders, and the mean was as good or better and steadier
# (tables_in_process.py --tails; RESULTS.md, "A steady model at the end")
AUTO_AVERAGED_SHARE = 0.25


def averaged_from(rounds: int, share: float = AUTO_AVERAGED_SHARE) -> int:
    """The first of the last ``share`` of ``rounds`` rounds (at least the last): 23 of 30."""
    return rounds - max(math.ceil(share * rounds), 1) + 1


def planned_strategy(settings: dict[str, Any], *, model: str) -> dict[str, Any]:
    """A federation's strategy settings (``FederationTraining.strategy_settings``) as its plan
    takes them: trees are bagged whatever strategy was asked; "auto" is FedAvgM from
    ``AUTO_MOMENTUM_ROUNDS`` rounds on, keeping the mean of the last rounds' global weights
    (``averaged_from``), else FedAvg (without momentum) keeping the last round's."""
    if model == "xgboost":
        return {**settings, "strategy": TREE_STRATEGY}
    if settings["strategy"] != "auto":
        return settings
    if settings["rounds"] >= AUTO_MOMENTUM_ROUNDS:
        return {**settings, "strategy": "fedavgm",
                "average_from": averaged_from(settings["rounds"])}
    return {**settings, "strategy": "fedavg", "server_momentum": 0.0}


def check_tree_settings(model: str, *, strategy: str, secure_aggregation: bool,
                        dp_epsilon: float | None) -> None:
    """ConfigError, before anything starts, for what tree bagging cannot honour: secure
    aggregation and central DP both work on a sum of weight vectors, and trees are appended,
    not summed; FedProx's proximal term pulls weights, which trees do not have."""
    if model != "xgboost":
        return
    refused = []
    if secure_aggregation:
        refused.append("--secure-aggregation (SecAgg+ hides each update inside a sum of "
                       "weight vectors, and bagged trees are appended to the global booster, "
                       "never summed: the coordinator must read every holder's trees)")
    if dp_epsilon is not None:
        refused.append("--dp-epsilon (central DP clips each update's distance from the "
                       "global weights and adds noise to their average; a holder's trees "
                       "have neither a distance to clip nor an average to noise)")
    if strategy == "fedprox":
        refused.append("--strategy fedprox (its proximal term pulls weights towards the "
                       "global ones; trees have no weights, and are bagged instead)")
    if strategy == "fedavgm":
        refused.append("--strategy fedavgm (its momentum steps along the average change of "
                       "the weights; trees have no weights, and are bagged instead)")
    if refused:
        raise ConfigError("--model xgboost bags trees across holders, which rules out "
                          + "; and ".join(refused) + ". Leave them out, or federate a linear "
                          "model or an MLP (--model linear or mlp)")


@dataclass(frozen=True)
class FederationPlan:
    schema: DeclaredSchema
    strategy: str  # one of STRATEGIES
    rounds: int
    min_clients: int  # a round starts when this many clients are connected
    proximal_mu: float  # FedProx's pull towards the global model (0 for FedAvg)
    local_epochs: int  # passes over its training rows a client makes per round (trees:
    # the boosting iterations it adds)
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
    # the model kept after the last round (federated.kept_model): the mean of the global
    # weights after this round and every later one; 0: the last round's alone
    average_from: int = 0

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
