"""A real platform server (uvicorn on 127.0.0.1, a free port) over a test's workspace, started
and stopped with bounded waits so that a broken server fails a test instead of hanging it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

_LAUNCH = """
import sys, uvicorn
from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app
from trainforge.workspace import Workspace
config = ServerConfig.model_validate_json(sys.argv[1])
uvicorn.run(create_server_app(Workspace(), config), host=config.host, port=config.port,
            log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def live_server(home: Path, *, start_timeout_s: float = 60.0, **config: object
                ) -> Iterator[str]:
    """Yield the base URL of a server over the workspace at ``home``."""
    from trainforge.config import ServerConfig

    port = free_port()
    settings = ServerConfig(port=port, **config).model_dump_json()  # type: ignore[arg-type]
    env = {**os.environ, "TRAINFORGE_HOME": str(home), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-c", _LAUNCH, settings], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited: {process.stdout.read().decode()[-2000:]}")
            try:
                httpx.get(f"{url}/api/v1/me", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no answer from {url} in {start_timeout_s} s") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
