"""The federation's global model after its last round, whichever kind it learned: the networks'
weights (``federated.networks``) or the trees' booster (``federated.trees``) as the catalog's
estimator behind the declared encoding. The jobs that register a federation's model call this;
the holders' own code imports only its kind's module, so a network's holder never imports
XGBoost and a tree's never imports PyTorch (Flower starts a process per message).
"""

from __future__ import annotations

from trainforge.algorithms.model import TabularModel
from trainforge.federated import networks, trees
from trainforge.federated.linear import Weights
from trainforge.federated.plan import FederationPlan


def global_model(weights: Weights, plan: FederationPlan) -> TabularModel:
    """``weights`` as the registered model the plan's ``model`` makes of them."""
    if plan.model == "xgboost":
        return trees.global_model(weights, plan)
    return networks.global_model(weights, plan)
