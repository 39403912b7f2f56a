"""The ``trainforge`` command: thin shells over the SDK (parse → call → render)."""

from __future__ import annotations

import sys


def main() -> None:
    from trainforge.cli.app import run

    sys.exit(run(sys.argv[1:]))
