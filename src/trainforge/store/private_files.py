"""Files and directories for their owner's eyes only: the workspace's home, database, secrets
and uploads. Modes are set explicitly, whatever the umask, and a mode an older trainforge left
wider is tightened."""

from __future__ import annotations

import os
import stat
from pathlib import Path

OWNER_ONLY_DIRECTORY = 0o700
OWNER_ONLY_FILE = 0o600


def private_directory(path: Path) -> Path:
    """``path`` created if missing (with its parents) and made enterable by its owner only."""
    path.mkdir(mode=OWNER_ONLY_DIRECTORY, parents=True, exist_ok=True)
    tighten(path, OWNER_ONLY_DIRECTORY)  # mkdir's mode passes through the umask; chmod does not
    return path


def tighten(path: Path, mode: int) -> None:
    """Give ``path`` exactly ``mode`` when it exists, is ours and is wider than that; one
    another user owns is left as it is (only its owner could change it)."""
    try:
        found = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return
    if os.name == "posix" and found.st_uid == os.getuid() and stat.S_IMODE(found.st_mode) != mode:
        path.chmod(mode)
