"""Image paths named in a table: opened only inside allowed folders, and only plain files.

A table is outside input: a path in it may point anywhere (``/etc/passwd``, ``../../``, a
symlink out, ``/dev/zero``, a FIFO). Each path is resolved (symlinks and ``..`` followed) and
must land inside the table's own folder or a root the administrator lists, on a regular file
no larger than the cap; ``read_image_bytes`` enforces the file kind and the cap again when the
bytes are read, so a file swapped after the check is still bounded.

Settings, read here only:

- ``TRAINFORGE_IMAGE_ROOTS``: more folders images may come from, ``os.pathsep``-separated
  (e.g. ``/data/images:/mnt/scans``); unset, only the table's folder.
- ``TRAINFORGE_MAX_IMAGE_MB``: the largest image file read, in MB (default 20).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainforge.errors import ConfigError, ImagePathRefused

ROOTS_VARIABLE = "TRAINFORGE_IMAGE_ROOTS"
MAX_MB_VARIABLE = "TRAINFORGE_MAX_IMAGE_MB"
DEFAULT_MAX_IMAGE_MB = 20.0  # a large photo is a few MB; a network trains at 64 pixels a side
_MB = 1_000_000


def max_image_bytes() -> int:
    """The size cap on one image file, from ``TRAINFORGE_MAX_IMAGE_MB``."""
    raw = os.environ.get(MAX_MB_VARIABLE, "").strip()
    if not raw:
        return int(DEFAULT_MAX_IMAGE_MB * _MB)
    try:
        megabytes = float(raw)
    except ValueError:
        megabytes = -1.0
    if not 0.0 < megabytes < float("inf"):
        raise ConfigError(f"{MAX_MB_VARIABLE} is {raw!r}; set it to a positive number of MB "
                          f"such as {DEFAULT_MAX_IMAGE_MB:g}, or unset it")
    return int(megabytes * _MB)


@dataclass(frozen=True)
class ImageRoots:
    """Where a table's image paths may lead: its folder, the listed roots, and the size cap."""

    folders: tuple[Path, ...]
    max_bytes: int

    @classmethod
    def for_table(cls, table_folder: Path) -> ImageRoots:
        """The table's own folder plus ``TRAINFORGE_IMAGE_ROOTS``."""
        listed = [p for p in os.environ.get(ROOTS_VARIABLE, "").split(os.pathsep) if p.strip()]
        folders = [Path(os.path.realpath(table_folder))]
        folders += [Path(os.path.realpath(p)) for p in listed]
        return cls(folders=tuple(folders), max_bytes=max_image_bytes())

    def resolve(self, written: str, *, row: int, column: str) -> str:
        """The absolute, symlink-free path of ``written`` (relative paths start in the table's
        folder), checked to be a regular file inside the folders, within the cap.

        Raises:
            ImagePathRefused: naming ``row`` (1 = the first data row), ``column`` and the path
                as written.
        """
        candidate = Path(written)
        if not candidate.is_absolute():
            candidate = self.folders[0] / candidate
        resolved = Path(os.path.realpath(candidate))
        if not any(resolved.is_relative_to(folder) for folder in self.folders):
            raise ImagePathRefused(row, column, written, "leads outside the table's folder",
                                   "put the image in the table's folder and give its path "
                                   f"relative to the table, or ask an administrator to list its "
                                   f"folder in {ROOTS_VARIABLE}")
        try:
            status = os.stat(resolved)
        except OSError:
            raise ImagePathRefused(row, column, written, "names no file",
                                   "check the path (relative paths start in the table's "
                                   "folder)") from None
        problem = _problem(status, self.max_bytes)
        if problem is not None:
            raise ImagePathRefused(row, column, written, *problem)
        return str(resolved)

    def resolve_column(self, values: Sequence[Any], *, column: str,
                       first_row: int = 1) -> list[Any]:
        """Each path of ``values`` resolved; missing values (not strings) kept as they are."""
        return [self.resolve(v, row=first_row + i, column=column) if isinstance(v, str) else v
                for i, v in enumerate(values)]


def read_image_bytes(path: str | Path) -> bytes:
    """The bytes of an image file: a regular file within the size cap, read without blocking
    on a FIFO and never past the cap, whatever the file became since it was checked.

    Raises:
        OSError: the file cannot be opened, or is not a regular file within the cap
            (``strerror`` says which).
    """
    limit = max_image_bytes()
    # O_NONBLOCK: opening a FIFO must not wait for a writer
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(descriptor, "rb") as handle:
        problem = _problem(os.fstat(descriptor), limit)
        if problem is not None:
            raise OSError(errno.EINVAL, problem[0])
        data = handle.read(limit + 1)
    if len(data) > limit:  # it grew after the check
        raise OSError(errno.EFBIG, f"is larger than {limit / _MB:g} MB")
    return data


def _problem(status: os.stat_result, limit: int) -> tuple[str, str] | None:
    """What is wrong with a file to read as an image, and what to do; None if nothing."""
    if not stat.S_ISREG(status.st_mode):
        return ("is not a regular file (a folder, device or pipe)",
                "give the path of an image file")
    if status.st_size > limit:
        return (f"is {status.st_size / _MB:,.1f} MB, over the {limit / _MB:g} MB limit",
                f"shrink the image, or ask an administrator to raise {MAX_MB_VARIABLE}")
    return None
