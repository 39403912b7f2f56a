"""The `trainforge` command run in this process, as `python -m trainforge` would run it.

Error paths are checked this way (fast, and a traceback fails the test where it happens);
tests/e2e runs the real command in a new process for whole journeys.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from trainforge.cli.app import run


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str


class InProcessCli:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self._monkeypatch, self._capsys = monkeypatch, capsys

    def __call__(self, *args: str, home: Path) -> Done:
        self._monkeypatch.setenv("TRAINFORGE_HOME", str(home))
        self._monkeypatch.setenv("COLUMNS", "160")
        self._capsys.readouterr()  # what earlier steps printed is not this command's
        code = run(list(args))
        out, err = self._capsys.readouterr()
        return Done(code, out, err)
