"""Where artifacts are shared beyond one machine: ``TRAINFORGE_ARTIFACTS``.

Unset, files live only under the workspace's ``artifacts`` folder, as they always have.
Set to ``s3://BUCKET/PREFIX`` (endpoint, region and credentials from the usual AWS variables:
``AWS_ENDPOINT_URL``, ``AWS_REGION``, ``AWS_ACCESS_KEY_ID``...), or to ``file:///FOLDER`` (a
folder every machine mounts), model packages and uploads are also written there, and a machine
that lacks a file fetches it, checking its sha256 before anything reads it.

Keys are the paths relative to the ``artifacts`` folder (``models/churn/3/manifest.json``,
``uploads/<id>/adult.csv``), so a file has the same name in both places.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from trainforge.errors import ArtifactMissing, ArtifactStoreError, BadArtifactsUrl

ARTIFACTS_VARIABLE = "TRAINFORGE_ARTIFACTS"
_CHUNK = 1 << 20


class ArtifactStore(Protocol):
    """A shared place for artifact files, addressed by key (a relative POSIX path)."""

    @property
    def location(self) -> str:
        """Where it is, for messages (``s3://bucket/prefix``): never a credential."""
        ...

    def check(self) -> None:
        """Raise an ArtifactStoreError naming what is wrong (credentials, bucket, endpoint)."""

    def put(self, source: Path, key: str) -> None:
        """Copy the local file ``source`` to ``key``, streaming it (never whole in memory)."""

    def get(self, key: str, target: Path, *, sha256: str) -> None:
        """Copy ``key`` to the local ``target``; ``target`` appears only once the copy is
        complete and matches ``sha256`` (else ArtifactStoreError, and no ``target``)."""

    def exists(self, key: str) -> bool:
        """Whether ``key`` holds a file."""

    def list(self, prefix: str) -> list[str]:
        """The keys under ``prefix`` (a folder, ending in ``/``), sorted."""

    def delete(self, keys: Iterable[str]) -> None:
        """Remove ``keys``; a key already gone is not an error."""


def open_artifact_store(url: str | None) -> ArtifactStore | None:
    """The store ``url`` names (``$TRAINFORGE_ARTIFACTS`` when None); None when unset: the
    artifacts folder under the home is then the only one. Nothing is contacted yet."""
    url = url if url is not None else os.environ.get(ARTIFACTS_VARIABLE, "")
    if not url:
        return None
    parsed = urlsplit(url)
    if parsed.scheme == "s3":
        # imported here: boto3 is an extra ([s3]) that the local default path never loads
        from trainforge.store.s3_artifacts import S3Artifacts

        return S3Artifacts(url)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost") or not parsed.path.startswith("/"):
            raise BadArtifactsUrl(url, "names no absolute folder on this machine")
        return LocalArtifacts(Path(parsed.path))
    raise BadArtifactsUrl(url, "is neither an s3:// nor a file:// URL")


def sha256_of(path: Path) -> str:
    """The file's sha256, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def settle(downloaded: Path, target: Path, *, sha256: str, where: str) -> None:
    """Move a completely downloaded file to ``target`` if it matches ``sha256``; else remove
    it and refuse (a changed or truncated copy must never be read)."""
    if sha256_of(downloaded) != sha256:
        downloaded.unlink()
        raise ArtifactStoreError(f"{where} does not match its recorded sha256 (changed or "
                                 "truncated in the artifact store); it was not used. Restore "
                                 "it, or register (or upload) it again")
    os.replace(downloaded, target)


def partial_file(target: Path) -> Path:
    """A fresh hidden file beside ``target`` to download into (the caller renames it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(prefix=".partial-", dir=target.parent)
    os.close(descriptor)
    return Path(name)


class LocalArtifacts:
    """An artifact store in a folder (``file:///mnt/shared/trainforge``): a mount every
    machine of a cluster sees."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def location(self) -> str:
        return self.root.as_uri()

    def check(self) -> None:
        if not self.root.is_dir():
            raise ArtifactStoreError(f"the artifact store {self.location} is not a folder; "
                                     "create it or mount it, or correct TRAINFORGE_ARTIFACTS")

    def put(self, source: Path, key: str) -> None:
        self.check()
        target = self._path(key)
        partial = partial_file(target)
        try:
            shutil.copyfile(source, partial)
            os.replace(partial, target)  # whole or not at all: a reader never sees a half file
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

    def get(self, key: str, target: Path, *, sha256: str) -> None:
        self.check()
        source = self._path(key)
        if not source.is_file():
            raise ArtifactMissing(f"{self.location}/{key}")
        partial = partial_file(target)
        try:
            shutil.copyfile(source, partial)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        settle(partial, target, sha256=sha256, where=f"{self.location}/{key}")

    def exists(self, key: str) -> bool:
        self.check()
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        self.check()
        folder = self._path(prefix)
        if not folder.is_dir():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in folder.rglob("*")
                      if p.is_file() and not p.name.startswith(".partial-"))

    def delete(self, keys: Iterable[str]) -> None:
        self.check()
        for key in keys:
            self._path(key).unlink(missing_ok=True)

    def _path(self, key: str) -> Path:
        # keys are made by trainforge from checked names; refuse anything that climbs anyway
        parts = key.split("/")
        if key.startswith("/") or ".." in parts:
            raise ArtifactStoreError(f"the artifact key {key!r} is not a relative path inside "
                                     "the store")
        return self.root.joinpath(*filter(None, parts))
