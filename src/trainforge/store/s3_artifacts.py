"""The artifact store on S3-compatible storage (AWS S3, SeaweedFS, MinIO, Ceph...).

The only module that imports boto3 (the ``[s3]`` extra). Endpoint, region and credentials come
from boto3's usual chain: ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3``, ``AWS_REGION``,
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE`` and its config files.
Files move with boto3's transfer manager: multipart past 8 MiB, streamed from and to disk.
``arrow_filesystem`` hands the same settings to pyarrow, which Ray Data reads S3 through.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import boto3.exceptions
import botocore.exceptions
import pyarrow.fs
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from trainforge.errors import (
    ArtifactMissing,
    ArtifactStoreDenied,
    ArtifactStoreError,
    ArtifactStoreUnreachable,
    ArtifactWriteFailed,
    BadArtifactsUrl,
    BucketNotFound,
)
from trainforge.store.artifacts import partial_file, settle

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# an endpoint that does not answer fails in seconds, not after botocore's minute of retries
_CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=60,
                        retries={"max_attempts": 2, "mode": "standard"})
_TRANSFER = TransferConfig(multipart_threshold=8 * 2**20, multipart_chunksize=8 * 2**20,
                           max_concurrency=4)
_DENIED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
           "InvalidToken", "ExpiredToken"}
_NO_BUCKET = {"NoSuchBucket"}
_NO_KEY = {"404", "NoSuchKey", "NotFound"}
_DELETE_BATCH = 1000  # the most keys one DeleteObjects call takes


class S3Artifacts:
    """Artifacts under ``s3://BUCKET/PREFIX``. The bucket must exist; the first use checks
    it, and the credentials, and says which is wrong."""

    def __init__(self, url: str) -> None:
        parsed = urlsplit(url)
        if not _BUCKET.fullmatch(parsed.netloc):
            raise BadArtifactsUrl(url, "has no valid bucket name")
        self.bucket = parsed.netloc
        self.prefix = "/".join(filter(None, parsed.path.split("/")))
        self._client: Any = boto3.session.Session().client("s3", config=_CLIENT_CONFIG)
        self.endpoint = str(self._client.meta.endpoint_url)
        self._checked = False
        self._checking = threading.Lock()

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def check(self) -> None:
        with self._checking:
            if self._checked:
                return
            try:
                self._client.head_bucket(Bucket=self.bucket)
            except botocore.exceptions.ClientError as error:
                # HEAD answers carry no error code: a bare 404 here is the bucket
                if _code(error) in _NO_KEY | _NO_BUCKET:
                    raise BucketNotFound(self.location, self.endpoint) from None
                raise self._translated(error, self.location) from None
            except botocore.exceptions.BotoCoreError as error:
                raise self._translated(error, self.location) from None
            self._checked = True

    def put(self, source: Path, key: str) -> None:
        self.check()
        try:
            self._client.upload_file(str(source), self.bucket, self._key(key), Config=_TRANSFER)
        except boto3.exceptions.S3UploadFailedError as error:
            # boto3 wraps the S3 answer in a message naming the local path: judge the answer
            cause = error.__context__
            if isinstance(cause, botocore.exceptions.ClientError):
                raise self._translated(cause, self._where(key)) from None
            raise ArtifactWriteFailed(self._where(key), "the upload failed") from None
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
            raise self._translated(error, self._where(key)) from None

    def get(self, key: str, target: Path, *, sha256: str) -> None:
        self.check()
        partial = partial_file(target)
        try:
            self._client.download_file(self.bucket, self._key(key), str(partial),
                                       Config=_TRANSFER)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
            partial.unlink(missing_ok=True)
            raise self._translated(error, self._where(key)) from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        settle(partial, target, sha256=sha256, where=self._where(key))

    def exists(self, key: str) -> bool:
        self.check()
        try:
            self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except botocore.exceptions.ClientError as error:
            if _code(error) in _NO_KEY:
                return False
            raise self._translated(error, self._where(key)) from None
        except botocore.exceptions.BotoCoreError as error:
            raise self._translated(error, self._where(key)) from None
        return True

    def list(self, prefix: str) -> list[str]:
        self.check()
        keys: list[str] = []
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key(prefix))
            for page in pages:
                keys += [item["Key"] for item in page.get("Contents", [])]
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
            raise self._translated(error, self._where(prefix)) from None
        cut = len(self._key(""))
        return sorted(key[cut:] for key in keys)

    def delete(self, keys: Iterable[str]) -> None:
        self.check()
        doomed = [{"Key": self._key(key)} for key in keys]
        try:
            for start in range(0, len(doomed), _DELETE_BATCH):
                self._client.delete_objects(Bucket=self.bucket, Delete={
                    "Objects": doomed[start:start + _DELETE_BATCH], "Quiet": True})
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
            raise self._translated(error, self.location) from None

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _where(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def _translated(self, error: Exception, where: str) -> ArtifactStoreError:
        """The TrainforgeError a boto error means: what was wrong, with the bucket and the
        endpoint named (never a credential, nor the server's raw answer)."""
        if isinstance(error, botocore.exceptions.NoCredentialsError):
            return ArtifactStoreDenied(self.location, self.endpoint)
        if isinstance(error, (botocore.exceptions.EndpointConnectionError,
                              botocore.exceptions.ConnectTimeoutError,
                              botocore.exceptions.ReadTimeoutError)):
            return ArtifactStoreUnreachable(self.location, self.endpoint)
        code = _code(error) if isinstance(error, botocore.exceptions.ClientError) else ""
        if code in _DENIED:
            return ArtifactStoreDenied(self.location, self.endpoint)
        if code in _NO_BUCKET:
            return BucketNotFound(self.location, self.endpoint)
        if code in _NO_KEY:
            return ArtifactMissing(where)
        return ArtifactStoreError(f"the artifact store {self.location} at {self.endpoint} "
                                  f"failed on {where} ({code or type(error).__name__}); retry, "
                                  "and check the S3 server's log if it persists")


def arrow_filesystem() -> pyarrow.fs.S3FileSystem:
    """pyarrow's S3 filesystem with the endpoint, region and credentials that boto3's chain
    finds, so that tables read and written through pyarrow (Ray Data) reach the same server,
    as the same user, as the artifact store."""
    session = boto3.session.Session()
    client = session.client("s3", config=_CLIENT_CONFIG)
    found = session.get_credentials()
    keys = found.get_frozen_credentials() if found is not None else None
    endpoint = urlsplit(str(client.meta.endpoint_url))
    return pyarrow.fs.S3FileSystem(
        access_key=keys.access_key if keys else None,
        secret_key=keys.secret_key if keys else None,
        session_token=keys.token if keys else None,
        region=client.meta.region_name or "us-east-1", scheme=endpoint.scheme or "https",
        endpoint_override=endpoint.netloc + endpoint.path.rstrip("/"),
        connect_timeout=5, request_timeout=60)


def _code(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
