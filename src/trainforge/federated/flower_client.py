"""A federation's data holder: trainforge's ClientApp, which a holder's SuperNode
(``flower_runtime supernode``, with the holder's plan, table and name in its node config)
runs from Flower's virtualenv. ``client_app`` answers the coordinator's rounds with the
holder's ``HolderClient`` (``flower_holder``); ``secure_client_app`` answers its SecAgg+
rounds through Flower's ``secaggplus_mod`` around it.

Flower 1.42 starts a ClientApp process for every message. A holder's SuperNode serves them
as forks of a warm process (``flower_warm``) that has made the imports and prepared the
holder once (``prepared_holder``), so each fork answers at once. Started cold (when no warm
process answers), this module imports Flower alone, and trainforge's data and model code only
when a message needs the holder: SecAgg+'s key exchange and unmasking never do.

Flower's modules are imported by the ``flower_*`` modules only; trainforge's own environment
never imports them (tests/test_layout.py checks both).
"""

from __future__ import annotations

import functools
from pathlib import Path

from flwr.app import Context
from flwr.client import Client, NumPyClient
from flwr.client.mod import secaggplus_mod
from flwr.clientapp import ClientApp


def holder_client(context: Context) -> Client:
    """The holder named in the SuperNode's node config, on its own table."""
    config = context.node_config
    return prepared_holder(Path(str(config["plan"])), Path(str(config["data"])),
                           str(config["name"])).to_client()


@functools.cache  # a warm process prepares its holder once, for every fork it serves
def prepared_holder(plan_file: Path, data: Path, name: str) -> NumPyClient:
    """The holder ``name`` of ``data`` under the plan in ``plan_file``: its rows read,
    checked against the plan and encoded."""
    from trainforge.federated.plan import FederationPlan  # see the module's docstring

    plan = FederationPlan.load(plan_file)
    if plan.model == "xgboost":  # a tree holder never imports PyTorch
        from trainforge.federated.flower_trees import TreeHolderClient

        return TreeHolderClient(plan, data, name=name)
    from trainforge.federated.flower_holder import HolderClient

    return HolderClient(plan, data, name=name)


client_app = ClientApp(client_fn=holder_client)
secure_client_app = ClientApp(client_fn=holder_client, mods=[secaggplus_mod])
