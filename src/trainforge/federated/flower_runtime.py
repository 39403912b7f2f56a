"""Flower's SuperLink and SuperNode as trainforge starts them, from Flower's virtualenv:

    python -m trainforge.federated.flower_runtime superlink|supernode FLOWER-ARGUMENTS…

runs ``flower-superlink`` or ``flower-supernode`` with those arguments, and ends it when the
trainforge that started it ends (a coordinator would otherwise wait for clients that will
never come, and a holder retry a coordinator that is gone). A module of its own, apart from
the ServerApp and ClientApp: Flower starts a ClientApp process for every message, and each
would otherwise import the SuperNode's whole command too.
"""

from __future__ import annotations

import sys

from flwr.superlink.cli import flower_superlink
from flwr.supernode.cli import flower_supernode

from trainforge.federated.parent_watch import exit_with_parent

COMMANDS = {"superlink": flower_superlink, "supernode": flower_supernode}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        raise SystemExit(f"usage: {__doc__}")
    exit_with_parent()
    command = sys.argv[1]
    sys.argv = [f"flower-{command}", *sys.argv[2:]]
    COMMANDS[command]()


if __name__ == "__main__":
    main()
