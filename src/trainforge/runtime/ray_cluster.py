"""Joining a Ray cluster from a job: the search's trials and batch prediction on Ray Data.

    join("127.0.0.1:6379")  # or ray://HOST:PORT; None or "auto": the one on this machine

Only the Ray paths import this module: the local path never imports Ray.
"""

from __future__ import annotations

import socket

import ray

from trainforge.errors import RayUnreachable

CONNECT_TIMEOUT_S = 5.0  # a head that does not answer a TCP connect in this long is down


def join(address: str | None) -> None:
    """Join the Ray cluster this process is in already, else the one at ``address`` (HOST:PORT,
    ray://HOST:PORT; None or "auto": the one started on this machine). It never starts a
    cluster (a job must not start one behind its server's back): RayUnreachable, within about
    CONNECT_TIMEOUT_S, when there is none to join (ray.init would retry an address that does
    not answer for minutes)."""
    if ray.is_initialized():
        return
    shown = address or "auto"
    if shown != "auto":
        host, _, port = shown.removeprefix("ray://").rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(port)),
                                     timeout=CONNECT_TIMEOUT_S).close()
        except (OSError, ValueError) as error:
            raise RayUnreachable(shown, f"no answer ({type(error).__name__})") from None
    try:
        ray.init(address=shown, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    except (ConnectionError, RuntimeError) as error:  # none on this machine; refused us
        raise RayUnreachable(shown, str(error)[:300]) from None
