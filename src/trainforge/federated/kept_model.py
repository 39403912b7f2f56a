"""The model a federation keeps after its last round: the global weights of that round, or
their mean over the last rounds (``FederationPlan.average_from`` on).

On holders whose classes differ, each round's clients pull the global model their own ways and
its accuracy swings from round to round (satimage, ten holders at Dirichlet 0.5, FedAvgM:
0.890, 0.876, 0.877, 0.892, 0.901 over rounds 26-30), so the last round's model is a draw
from that swing. The mean of the global weights over the trajectory's end, as stochastic weight
averaging keeps the mean of SGD's iterates (Izmailov et al., 2018), lies inside the swing
instead of at one of its ends. The rounds still train from each round's global weights; only
the model kept at the end is the mean. Only parameters travel (the networks have no BatchNorm
statistics, ``federated.networks``), so the mean is a model of the same network; trees are
appended, not averaged, and are always the last round's.
"""

from __future__ import annotations

import numpy as np

from trainforge.federated.linear import Weights
from trainforge.federated.plan import FederationPlan


def kept_words(plan: FederationPlan) -> str:
    """What the registered model is, in the report's and the run's words."""
    if not plan.average_from:
        return f"the global model after round {plan.rounds}, the last"
    return (f"the mean of the global weights after rounds {plan.average_from} to "
            f"{plan.rounds} (each round's curve shows that round's global model)")


def kept_note(plan: FederationPlan) -> str:
    """The same, for a model's one-line description: ", the mean of rounds 23-30", or ""."""
    return f", the mean of rounds {plan.average_from}-{plan.rounds}" if plan.average_from else ""


class KeptModel:
    """Follows the global weights round by round and holds the model to keep: their mean from
    ``plan.average_from`` on, else the latest."""

    def __init__(self, plan: FederationPlan) -> None:
        self.first = plan.average_from  # 0: keep the last round's weights
        self.latest: Weights | None = None
        self.total: list[np.ndarray] = []  # float64: thirty small steps summed lose nothing
        self.n_averaged = 0

    def add(self, round_number: int, weights: Weights) -> None:
        """The global weights after ``round_number``."""
        self.latest = [np.array(array, copy=True) for array in weights]
        if not self.first or round_number < self.first:
            return
        if not self.total:
            self.total = [np.asarray(array, dtype=np.float64) for array in weights]
        else:
            self.total = [total + array for total, array in zip(self.total, weights, strict=True)]
        self.n_averaged += 1

    @property
    def averaged(self) -> bool:
        """Whether the kept model is a mean of more than one round's weights."""
        return self.n_averaged > 1

    def weights(self) -> Weights:
        """The model to keep: the mean of the averaged rounds (each array in its own type),
        else the latest round's. ValueError before any round was added."""
        if self.latest is None:
            raise ValueError("no round's weights were added")
        if not self.total:
            return self.latest
        return [(total / self.n_averaged).astype(latest.dtype)
                for total, latest in zip(self.total, self.latest, strict=True)]
