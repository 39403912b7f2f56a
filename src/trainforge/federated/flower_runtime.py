"""Flower's SuperLink and SuperNode as trainforge starts them, from Flower's virtualenv:

    python -m trainforge.federated.flower_runtime superlink|supernode FLOWER-ARGUMENTS…

runs ``flower-superlink`` or ``flower-supernode`` with those arguments, and ends it when the
trainforge that started it ends (a coordinator would otherwise wait for clients that will
never come, and a holder retry a coordinator that is gone). A module of its own, apart from
the ServerApp and ClientApp: Flower starts a ClientApp process for every message, and each
would otherwise import the SuperNode's whole command too.

A SuperLink answers Flower's Control API (registering SuperNodes, submitting and stopping
runs) to this machine alone (``ControlApiOnThisMachine``): Flower's open-source SuperLink
serves that API on the port the holders dial and authenticates no caller, so anyone who
reached the port could register a SuperNode key of their own and pass SuperNode
authentication. Its Fleet API, which the holders' SuperNodes speak, is untouched.

A SuperNode gets, beside it, its holder's warm ClientApp server (``flower_warm``), and the
``flwr-clientapp`` shim (``clientapp_shim``) first on the PATH its SuperExec finds Flower's
command by: each message's ClientApp is then a fork of a process that has made its imports
and prepared the holder's data once, not a new interpreter that does both again.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from flwr.superlink import extensions
from flwr.superlink.cli import flower_superlink
from flwr.supernode.cli import flower_supernode
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from trainforge.federated.clientapp_shim import SOCKET_VARIABLE, write_shim
from trainforge.federated.parent_watch import exit_with_parent

COMMANDS = {"superlink": flower_superlink, "supernode": flower_supernode}
CONTROL_PATH = "/v1/control/"  # Flower's Control API, beside its Fleet and Runtime APIs
LOOPBACK = ("127.0.0.1", "::1")


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        raise SystemExit(f"usage: {__doc__}")
    exit_with_parent()
    command = sys.argv[1]
    if command == "superlink":
        keep_control_api_on_this_machine(sys.argv)
    warm = None
    if command == "supernode" and "--node-config" in sys.argv:
        warm = serve_clientapps_warm(Path(sys.argv[sys.argv.index("--node-config") + 1]))
    sys.argv = [f"flower-{command}", *sys.argv[2:]]
    try:
        COMMANDS[command]()
    finally:  # a SuperNode stopped ends its warm server now; one killed, within a second
        if warm is not None:
            warm.kill()


class ControlApiOnThisMachine:
    """ASGI middleware: Flower's Control API answers a caller on this machine only (one of
    ``hosts``, its addresses), anyone else a 403; every other route passes."""

    def __init__(self, app: ASGIApp, *, hosts: frozenset[str]) -> None:
        self.app, self.hosts = app, hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        caller = (scope.get("client") or ("",))[0]
        if scope["type"] == "http" and scope["path"].startswith(CONTROL_PATH) \
                and caller not in self.hosts:
            refused = JSONResponse(status_code=403, content={"detail": (
                "this SuperLink answers its Control API on its own machine only; a SuperNode "
                "joins through the trainforge server, which registers its key")})
            await refused(scope, receive, send)
            return
        await self.app(scope, receive, send)


def keep_control_api_on_this_machine(arguments: list[str]) -> None:
    """Put ``ControlApiOnThisMachine`` first in the SuperLink about to start with
    ``arguments`` (through Flower's extension hook for middleware), letting in the loopback
    addresses and those of the ``--host`` it binds: a caller on this machine dialling that
    host comes from it."""
    host = arguments[arguments.index("--host") + 1] if "--host" in arguments else LOOPBACK[0]
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:  # a name that resolves to nothing: Flower says so as it binds
        addresses = {host}
    hosts = frozenset({*LOOPBACK, *addresses})
    flowers_own = extensions.get_middleware
    extensions.get_middleware = lambda: (Middleware(ControlApiOnThisMachine, hosts=hosts),
                                         *flowers_own())


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
