"""A federation's data holder: trainforge's ClientApp, which a holder's SuperNode
(``flower_runtime supernode``, with the holder's plan, table and name in its node config)
runs from Flower's virtualenv. ``client_app`` answers the coordinator's rounds with the
holder's ``HolderClient`` (``flower_holder``); ``secure_client_app`` answers its SecAgg+
rounds through Flower's ``secaggplus_mod`` around it.

Flower 1.42 starts a fresh ClientApp process for every message, so this module imports Flower
alone, and trainforge's data and model code only when a message needs the holder: SecAgg+'s
key exchange and unmasking never do.

Flower's modules are imported by the ``flower_*`` modules only; trainforge's own environment
never imports them (tests/test_layout.py checks both).
"""

from __future__ import annotations

from pathlib import Path

from flwr.app import Context
from flwr.client import Client
from flwr.client.mod import secaggplus_mod
from flwr.clientapp import ClientApp


def holder_client(context: Context) -> Client:
    """The holder named in the SuperNode's node config, on its own table."""
    from trainforge.federated.plan import FederationPlan  # see the module's docstring

    config = context.node_config
    plan = FederationPlan.load(Path(str(config["plan"])))
    data, name = Path(str(config["data"])), str(config["name"])
    if plan.model == "xgboost":  # a tree holder never imports PyTorch
        from trainforge.federated.flower_trees import TreeHolderClient

        return TreeHolderClient(plan, data, name=name).to_client()
    from trainforge.federated.flower_holder import HolderClient

    return HolderClient(plan, data, name=name).to_client()


client_app = ClientApp(client_fn=holder_client)
secure_client_app = ClientApp(client_fn=holder_client, mods=[secaggplus_mod])
