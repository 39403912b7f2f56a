"""A model package on disk: written whole or not at all, and verified before it is read.

Writing goes into a hidden staging directory beside the final one; every file is fsynced and
hashed, then one ``rename`` publishes the package. A crash before the rename leaves only the
staging directory, which nothing reads and the next registration sweeps away.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainforge.errors import BadModelName, DataFileNotFound, PackageCorrupt
from trainforge.registry.manifest import MANIFEST, READABLE_FORMAT_VERSIONS

STAGING_PREFIX = ".incoming-"
DELETING_PREFIX = ".deleting-"
_STALE_AFTER_S = 3600.0  # a registration takes seconds; older staging dirs are from crashes
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")
_CHUNK = 1 << 20


def make_staging(parent: Path) -> Path:
    """A fresh hidden directory in ``parent``, after sweeping crashed leftovers."""
    parent.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for leftover in parent.iterdir():
        if (leftover.name.startswith((STAGING_PREFIX, DELETING_PREFIX))
                and now - leftover.stat().st_mtime > _STALE_AFTER_S):
            shutil.rmtree(leftover, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide the package from a serving user
    return staging


def copy_extra_files(extra_files: Mapping[str, Path], directory: Path) -> None:
    """Copy files such as report.html into the package under the given names."""
    for name, source in extra_files.items():
        if not _FILE_NAME.fullmatch(name) or name == MANIFEST or name.startswith("member-"):
            raise BadModelName(name, what="file name in a model package (and not manifest.json "
                               "or member-*)")
        if not Path(source).is_file():
            raise DataFileNotFound(str(source))
        shutil.copyfile(source, directory / name)


def seal_files(directory: Path) -> dict[str, dict[str, Any]]:
    """fsync every file in ``directory`` and return name -> {"sha256", "size"}."""
    sealed = {}
    for path in sorted(directory.iterdir()):
        if not path.is_file():
            raise PackageCorrupt(str(path), "is not a plain file; packages hold files only")
        sealed[path.name] = _digest(path, sync=True)
    return sealed


def seal_file(path: Path) -> dict[str, Any]:
    """fsync one file written after ``seal_files`` and return its {"sha256", "size"}."""
    return _digest(path, sync=True)


def write_manifest(directory: Path, manifest: dict[str, Any]) -> str:
    """Write manifest.json durably; returns its sha256 (the registry keeps it)."""
    content = json.dumps(manifest, indent=2, allow_nan=False).encode()
    with open(directory / MANIFEST, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    _sync_directory(directory)
    return hashlib.sha256(content).hexdigest()


def publish(staging: Path, target: Path) -> bool:
    """Rename ``staging`` to ``target`` atomically; False if ``target`` already exists."""
    try:
        os.rename(staging, target)
    except OSError as error:
        if error.errno in (errno.EEXIST, errno.ENOTEMPTY):
            return False
        raise
    _sync_directory(target.parent)
    return True


def read_manifest(directory: Path, *, sha256: str | None = None) -> dict[str, Any]:
    """The package's manifest, checked against ``sha256`` (from the registry) when given."""
    path = directory / MANIFEST
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise PackageCorrupt(str(path), "is missing") from None
    if sha256 is not None and hashlib.sha256(content).hexdigest() != sha256:
        raise PackageCorrupt(str(path), "has changed since the model was registered")
    try:
        manifest = json.loads(content)
    except ValueError as error:
        raise PackageCorrupt(str(path), f"is not valid JSON ({error})") from None
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if version not in READABLE_FORMAT_VERSIONS:
        readable = ", ".join(map(str, READABLE_FORMAT_VERSIONS))
        raise PackageCorrupt(str(path), f"has format_version {version!r}, but this trainforge "
                             f"reads format versions {readable}; upgrade trainforge to load it")
    return dict(manifest)


def verify_files(directory: Path, manifest: dict[str, Any]) -> None:
    """Check every file the manifest lists: a plain file, same size, same sha256; and that the
    members use only listed files."""
    manifest_path = str(directory / MANIFEST)
    listed = manifest.get("files")
    if not isinstance(listed, dict) or not listed:
        raise PackageCorrupt(manifest_path, "lists no files")
    for name, expected in listed.items():
        verify_file(directory, name, expected)
    for name in _member_files(manifest, manifest_path):
        if name not in listed:
            raise PackageCorrupt(manifest_path, f"uses {name!r}, which its file list does not "
                                 "cover")


def is_safe_file_name(name: object) -> bool:
    """Whether ``name`` may name a file of a package: one plain component, no climbing."""
    return isinstance(name, str) and _FILE_NAME.fullmatch(name) is not None


def verify_file(directory: Path, name: str, expected: Any) -> None:
    """Check one file the manifest lists (``expected``: its entry): a plain file, same size,
    same sha256."""
    manifest_path = str(directory / MANIFEST)
    path = directory / name
    if not _FILE_NAME.fullmatch(name):
        raise PackageCorrupt(manifest_path, f"lists an unsafe path {name!r}")
    if (not isinstance(expected, dict) or not isinstance(expected.get("size"), int)
            or not isinstance(expected.get("sha256"), str)):
        raise PackageCorrupt(manifest_path, f"lists {name!r} without its size and sha256")
    if path.is_symlink():  # its hash would vouch for a file outside the package
        raise PackageCorrupt(str(path), "is a link; a package holds plain files only")
    if not path.is_file():
        raise PackageCorrupt(str(path), "is missing")
    size = path.stat().st_size  # before hashing: a swapped-in huge file is not read
    if size != expected["size"]:
        raise PackageCorrupt(str(path), f"is {size} bytes, but {expected['size']} were "
                             "registered (truncated or changed)")
    if _digest(path, sync=False)["sha256"] != expected["sha256"]:
        raise PackageCorrupt(str(path), "does not match its sha256 in the manifest "
                             "(changed since it was registered)")


def _member_files(manifest: dict[str, Any], manifest_path: str) -> list[str]:
    """Every file the members' entries name; PackageCorrupt when an entry is garbled."""
    members = manifest.get("members")
    if not isinstance(members, list) or not members:
        raise PackageCorrupt(manifest_path, "lists no members")
    names: list[str] = []
    for index, member in enumerate(members):
        if not isinstance(member, dict) or not isinstance(member.get("estimator"), dict):
            raise PackageCorrupt(manifest_path, f"has no estimator in members[{index}]")
        for part in ("preprocessor", "estimator"):
            entry = member.get(part)
            if entry is None:  # a policy has no preprocessor
                continue
            files = entry.get("files") if isinstance(entry, dict) else None
            if (not isinstance(files, list) or not files
                    or not all(isinstance(name, str) for name in files)):
                raise PackageCorrupt(manifest_path, f"has a garbled {part} in members[{index}] "
                                     "(it needs the list of its files)")
            names.extend(files)
    return names


def set_aside(path: Path) -> Path:
    """Rename a package directory to a hidden name (first step of deleting it), so that a
    half-deleted package is never visible under its version."""
    aside = path.parent / f"{DELETING_PREFIX}{path.name}-{os.getpid()}-{time.monotonic_ns()}"
    os.rename(path, aside)
    return aside


def _digest(path: Path, *, sync: bool) -> dict[str, Any]:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
        if sync:
            os.fsync(handle.fileno())
        size = handle.tell()
    return {"sha256": digest.hexdigest(), "size": size}


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
