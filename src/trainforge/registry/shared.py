"""Model packages in the shared artifact store (``TRAINFORGE_ARTIFACTS``).

Object stores have no atomic rename of a folder, so the manifest is the commit: every file is
written first and ``manifest.json`` last, and a reader starts from the manifest (whose sha256
the registry keeps), so a package is visible only once complete. A machine loading a version
copies it into its cache, keyed by version and manifest hash, checking each file's sha256 as it
arrives; the registry then loads the copy exactly as a local package.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path

from trainforge.errors import PackageCorrupt, TrainforgeError
from trainforge.registry import package
from trainforge.registry.manifest import MANIFEST
from trainforge.store.artifacts import ArtifactStore


def is_published(store: ArtifactStore, key: str) -> bool:
    """Whether a complete package (its manifest) is at ``key`` in the store."""
    return store.exists(f"{key}/{MANIFEST}")


def publish(store: ArtifactStore, directory: Path, *, key: str, files: Iterable[str]) -> None:
    """Copy the package in ``directory`` to ``key``: ``files`` first, the manifest last. When a
    copy fails, what was copied is removed (as far as the store lets us) and the error raised:
    without its manifest, no reader ever takes the rest for a package."""
    written: list[str] = []
    try:
        for name in sorted(files):
            store.put(directory / name, f"{key}/{name}")
            written.append(f"{key}/{name}")
        store.put(directory / MANIFEST, f"{key}/{MANIFEST}")
    except BaseException:
        with suppress(TrainforgeError):  # the store may be what failed: the first error counts
            store.delete(written)
        raise


def unpublish(store: ArtifactStore, *, key: str) -> None:
    """Remove the package at ``key``: the manifest first, so it stops being a package before
    its files go."""
    store.delete([f"{key}/{MANIFEST}"])
    store.delete(store.list(f"{key}/"))


def fetch(store: ArtifactStore, cache: Path, *, key: str, manifest_sha256: str) -> Path:
    """A local directory holding the package at ``key``: from the cache, else downloaded into
    it. Every file is checked against its sha256 on arrival; PackageCorrupt when the manifest is
    missing (a registration interrupted before it) or lists a file it may not."""
    cached = cache / f"{key}-{manifest_sha256[:16]}"
    if (cached / MANIFEST).is_file():
        return cached
    where = f"{store.location}/{key}/{MANIFEST}"
    if not is_published(store, key):
        raise PackageCorrupt(where, "is missing: the package was never completely written to "
                             "the artifact store (an interrupted registration) or was removed")
    staging = package.make_staging(cached.parent)
    try:
        store.get(f"{key}/{MANIFEST}", staging / MANIFEST, sha256=manifest_sha256)
        listed = package.read_manifest(staging, sha256=manifest_sha256).get("files")
        if not isinstance(listed, dict) or not listed:
            raise PackageCorrupt(where, "lists no files")
        for name, entry in listed.items():
            if not package.is_safe_file_name(name) or not isinstance(entry, dict):
                raise PackageCorrupt(where, f"lists an unsafe or garbled file {name!r}")
            store.get(f"{key}/{name}", staging / name, sha256=str(entry.get("sha256")))
        # another process may have cached the same package meanwhile: theirs is as good
        package.publish(staging, cached)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return cached
