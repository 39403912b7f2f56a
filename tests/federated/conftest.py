"""Flower's virtualenv, for the tests of federations of processes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests._paths import ROOT

from trainforge.federated.environment import flower_python


@pytest.fixture(scope="session")
def flower() -> Path:
    """Flower's interpreter: TRAINFORGE_FLOWER_VENV, else the checkout's .venv-flower."""
    venv = Path(os.environ.get("TRAINFORGE_FLOWER_VENV", ROOT / ".venv-flower"))
    return flower_python(venv)

