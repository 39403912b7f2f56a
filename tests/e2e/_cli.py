"""The real `trainforge` command, run as a user runs it, against a workspace of the test's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def trainforge(*args: str, home: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRAINFORGE_HOME": str(home), "COLUMNS": "160"}
    return subprocess.run([sys.executable, "-m", "trainforge", *args], capture_output=True,
                          text=True, env=env, timeout=timeout, check=False)
