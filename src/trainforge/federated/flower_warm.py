"""A holder's warm ClientApp server, started beside its SuperNode by ``flower_runtime``:

    python -m trainforge.federated.flower_warm NODE_CONFIG SOCKET

Flower 1.42's SuperNode starts a ``flwr-clientapp`` process for every message, and each,
cold, spends seconds importing Flower, trainforge and PyTorch or XGBoost and reading the
holder's data again before it does a second of work. This process does all of that once: it
imports Flower's ClientApp command and trainforge's ClientApp, prepares the holder named in
the SuperNode's node config (``flower_client.prepared_holder``), then listens on SOCKET. For
each message the ``flwr-clientapp`` shim (``clientapp_shim``) sends its request, and the
server forks: the child takes the shim's streams, working directory, environment and
arguments and runs Flower's own ``flwr_clientapp()``, so the task runs exactly as Flower's
(its heartbeats, the check on the SuperExec that started it, its exit status and its log
lines in the holder's log); only the imports and the holder's data are inherited, copy on
write. The server reports the child's exit status to the shim, and kills the child if the
shim is killed. It ends with the SuperNode.
"""

from __future__ import annotations

import copy
import os
import select
import signal
import socket
import sys
import threading
import time
import tomllib
import traceback
from pathlib import Path
from typing import Any, NoReturn

from flwr.client import NumPyClient
from flwr.supernode.cli.flwr_clientapp import flwr_clientapp

from trainforge.federated.clientapp_shim import COMMAND, read_request, socket_address
from trainforge.federated.flower_client import prepared_holder
from trainforge.federated.parent_watch import exit_with_parent

BACKLOG = 64  # messages that may wait for a fork: a few per round are the most there are
REQUEST_TIMEOUT_S = 10.0  # a shim sends its request at once; one that stalls is dropped
POLL_S = 0.02  # how often a child's keeper looks for its end (or its shim's)


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(f"usage: {__doc__}")
    exit_with_parent()
    node_config, socket_path = Path(sys.argv[1]), Path(sys.argv[2])
    socket_path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_address(socket_path))  # before preparing: a shim waits, not goes cold
    socket_path.chmod(0o600)  # its owner's alone: it runs what it is asked to
    listener.listen(BACKLOG)
    prepare(node_config)
    while True:
        connection, _ = listener.accept()
        try:
            serve(connection, listener=listener)
        except (OSError, ValueError) as error:  # a shim gone before asking, or not a shim
            print(f"trainforge: a ClientApp request was dropped: {error}", file=sys.stderr)
            connection.close()


def prepare(node_config: Path) -> None:
    """Prepare the holder of ``node_config`` for the forks to inherit, and answer a round
    on its first weights once, here: PyTorch sets up its optimiser's machinery on the first
    step (seconds, importing torch._dynamo), and every fork would pay it again. Nothing of
    that answer is kept or sent: each fit and evaluation loads the weights it is given. A
    holder that cannot be prepared is left to each ClientApp, which fails saying why, as a
    cold one would."""
    started = time.perf_counter()
    config = tomllib.loads(node_config.read_text())
    try:
        holder = prepared_holder(Path(config["plan"]), Path(config["data"]),
                                 str(config["name"]))
        answer_once(holder)
    except Exception as error:  # noqa: BLE001  # the ClientApp reports it to the coordinator
        print(f"trainforge: holder {config.get('name')!r} was not prepared ahead: {error}",
              file=sys.stderr)
        return
    print(f"trainforge: holder {config['name']}'s ClientApps are forked from a warm process "
          f"(pid {os.getpid()}), prepared in {time.perf_counter() - started:.1f} s",
          file=sys.stderr, flush=True)


def answer_once(holder: NumPyClient) -> None:
    """Fit and evaluate a copy of ``holder`` on its first weights, leaving the holder (its
    network's BatchNorm statistics, which are not weights that travel) and PyTorch's global
    generator (which dropout draws from) as they were: a fork starts from the state a cold
    ClientApp would."""
    torch = sys.modules.get("torch")  # a tree holder never imports it
    state = torch.random.get_rng_state() if torch is not None else None
    probe = copy.deepcopy(holder)
    first = probe.get_parameters({})
    probe.fit(first, {})
    probe.evaluate(first, {})
    if torch is not None:
        torch.random.set_rng_state(state)


def serve(connection: socket.socket, *, listener: socket.socket) -> None:
    """Fork a child running the ClientApp ``connection``'s shim asks for, tell the shim its
    pid, and leave a thread to report its end."""
    connection.settimeout(REQUEST_TIMEOUT_S)
    request, streams = read_request(connection)
    connection.settimeout(None)
    sys.stdout.flush()
    sys.stderr.flush()  # or the child would write what is buffered here a second time
    child = os.fork()
    if child == 0:
        listener.close()
        connection.close()
        run_clientapp(request, streams)
    for stream in streams:
        os.close(stream)
    connection.sendall(f"pid {child}\n".encode())
    threading.Thread(target=keep, args=(connection, child), name=f"keep-{child}",
                     daemon=True).start()


def run_clientapp(request: dict[str, Any], streams: list[int]) -> NoReturn:
    """In the child: become the ``flwr-clientapp`` the shim was started as, and exit as it
    does."""
    status = 1
    try:
        for target, stream in enumerate(streams):
            os.dup2(stream, target)
            os.close(stream)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["environ"])
        sys.argv = [COMMAND, *request["argv"]]
        flwr_clientapp()
        status = 0
    except SystemExit as exit_:  # how Flower's command ends, with its code
        status = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    except BaseException:  # noqa: BLE001  # the child must never return into the server
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def keep(connection: socket.socket, child: int) -> None:
    """Send the shim on ``connection`` the child's exit status when it ends; kill the child
    if the shim ends first (the shim sends nothing more: its socket turning readable means it
    is gone)."""
    with connection:
        while True:
            ended, status = os.waitpid(child, os.WNOHANG)
            if ended:
                try:
                    connection.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
                except OSError:  # the shim went at the same moment
                    pass
                return
            readable, _, _ = select.select([connection], [], [], POLL_S)
            if readable:
                os.kill(child, signal.SIGKILL)
                os.waitpid(child, 0)
                return


if __name__ == "__main__":
    main()
