"""Flower's SuperLink and SuperNode as trainforge starts them, from Flower's virtualenv:

    python -m trainforge.federated.flower_runtime superlink|supernode FLOWER-ARGUMENTS…

runs ``flower-superlink`` or ``flower-supernode`` with those arguments, and ends it when the
trainforge that started it ends (a coordinator would otherwise wait for clients that will
never come, and a holder retry a coordinator that is gone). A module of its own, apart from
the ServerApp and ClientApp: Flower starts a ClientApp process for every message, and each
would otherwise import the SuperNode's whole command too.

A SuperNode gets, beside it, its holder's warm ClientApp server (``flower_warm``), and the
``flwr-clientapp`` shim (``clientapp_shim``) first on the PATH its SuperExec finds Flower's
command by: each message's ClientApp is then a fork of a process that has made its imports
and prepared the holder's data once, not a new interpreter that does both again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flwr.superlink.cli import flower_superlink
from flwr.supernode.cli import flower_supernode

from trainforge.federated.clientapp_shim import SOCKET_VARIABLE, write_shim
from trainforge.federated.parent_watch import exit_with_parent

COMMANDS = {"superlink": flower_superlink, "supernode": flower_supernode}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        raise SystemExit(f"usage: {__doc__}")
    exit_with_parent()
    command = sys.argv[1]
    warm = None
    if command == "supernode" and "--node-config" in sys.argv:
        warm = serve_clientapps_warm(Path(sys.argv[sys.argv.index("--node-config") + 1]))
    sys.argv = [f"flower-{command}", *sys.argv[2:]]
    try:
        COMMANDS[command]()
    finally:  # a SuperNode stopped ends its warm server now; one killed, within a second
        if warm is not None:
            warm.kill()


def serve_clientapps_warm(node_config: Path) -> subprocess.Popen[bytes]:
    """Start the warm ClientApp server of the holder in ``node_config`` (its socket beside
    that file), and put the shim that hands it each message first on this process's PATH,
    which the SuperNode's SuperExec inherits; return the server's process."""
    home = node_config.parent
    socket_path = home / "clientapps.sock"
    server = subprocess.Popen([sys.executable, "-m", "trainforge.federated.flower_warm",
                               str(node_config), str(socket_path)])
    shims = write_shim(home / "clientapp-shim", python=Path(sys.executable))
    os.environ[SOCKET_VARIABLE] = str(socket_path)
    os.environ["PATH"] = f"{shims}{os.pathsep}{os.environ.get('PATH', '')}"
    return server


if __name__ == "__main__":
    main()
