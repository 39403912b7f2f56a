"""The ``flwr-clientapp`` a holder's SuperNode starts for each message, first on its PATH in
place of Flower's own: it hands its arguments, environment, working directory and standard
streams to the holder's warm ClientApp server (``flower_warm``), which forks a child that has
already imported Flower and trainforge and prepared the holder's data, and runs Flower's own
``flwr-clientapp`` entry there. The shim waits for that child and exits with its status; a
signal it is sent goes on to the child, and if it is killed the server kills the child. When
no server answers (not started yet, or gone), it becomes Flower's own command (an exec), as
if it were not there.

Flower 1.42's SuperNode starts a ClientApp process per message; cold, each pays seconds of
imports before its first line of work (benchmarks/federated/bench_clientapp.py). The shim
runs under ``python -S`` and imports the standard library alone: it starts in tens of
milliseconds, and the fork in a few.

This module holds the shim and the little protocol both ends speak over the server's Unix
socket: the shim sends one byte carrying its three standard streams, then a JSON line of its
request; the server answers ``pid N`` once the child runs and ``exit STATUS`` when it ends
(STATUS as ``subprocess`` reports it: negative for a signal).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

SOCKET_VARIABLE = "TRAINFORGE_WARM_CLIENTAPPS"  # the warm server's socket, for the shim
COMMAND = "flwr-clientapp"  # Flower's command the shim stands in for
STREAMS = (0, 1, 2)  # stdin, stdout, stderr: the child writes where Flower's would
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)
MAX_SOCKET_PATH = 100  # a Unix socket's path is at most 107 bytes: longer ones go relative


def write_shim(folder: Path, *, python: Path) -> Path:
    """Write the ``flwr-clientapp`` shim, run by ``python``, into ``folder``; return the
    folder (to go first on the SuperNode's PATH)."""
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / COMMAND
    shim.write_text(f"#!/bin/sh\nexec {shlex.quote(str(python))} -S -m "
                    f"trainforge.federated.clientapp_shim \"$@\"\n")
    shim.chmod(0o755)
    return folder


def socket_address(path: Path) -> str:
    """What to bind or connect to for the socket at ``path``: relative to here when the
    absolute path is too long for a Unix socket (a holder's deep scratch folder)."""
    return str(path) if len(str(path)) < MAX_SOCKET_PATH else os.path.relpath(path)


def send_request(server: socket.socket, arguments: list[str]) -> None:
    """Ask ``server`` to run Flower's ClientApp with ``arguments``, here's environment,
    working directory and standard streams."""
    socket.send_fds(server, [b"\0"], list(STREAMS))
    request = {"argv": arguments, "cwd": os.getcwd(), "environ": dict(os.environ)}
    server.sendall(json.dumps(request).encode() + b"\n")


def read_request(connection: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """The request a shim sent on ``connection`` and the streams it passed (file
    descriptors now open here). Raises ValueError for anything else."""
    _, streams, _, _ = socket.recv_fds(connection, 1, len(STREAMS))
    line = connection.makefile("rb").readline()
    if len(streams) != len(STREAMS) or not line.endswith(b"\n"):
        for stream in streams:
            os.close(stream)
        raise ValueError("not a ClientApp request: expected 3 streams and a JSON line")
    return json.loads(line), streams


def main() -> NoReturn:
    arguments = sys.argv[1:]
    try:
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.connect(socket_address(Path(os.environ[SOCKET_VARIABLE])))
        send_request(server, arguments)
        replies = server.makefile("r")
        child = int(replies.readline().removeprefix("pid "))
    except (KeyError, OSError, ValueError):  # no warm server: be Flower's own command
        own = Path(sys.executable).parent / COMMAND
        os.execv(own, [str(own), *arguments])

    def forward(signum: int, frame: FrameType | None) -> None:
        _signal(child, signum)

    for signum in FORWARDED:
        signal.signal(signum, forward)
    ended = replies.readline()
    if not ended.startswith("exit "):  # the server is gone: so is the child's keeper
        _signal(child, signal.SIGKILL)
        os._exit(1)
    _exit_as(int(ended.removeprefix("exit ")))


def _signal(child: int, signum: int) -> None:
    try:
        os.kill(child, signum)
    except ProcessLookupError:  # it has ended already
        pass


def _exit_as(status: int) -> NoReturn:
    """Exit with the child's ``status``: its code, or the signal that ended it."""
    if status < 0:
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
    os._exit(status if status >= 0 else 128 - status)


if __name__ == "__main__":
    main()
