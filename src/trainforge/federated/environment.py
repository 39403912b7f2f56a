"""Flower's own virtualenv: where it is, how to create it, and how to run trainforge in it.

Flower pins FastAPI, Starlette, Typer, rich, packaging and protobuf below the versions the
platform runs, so it cannot share trainforge's environment. It gets one of its own, holding
Flower, PyTorch (the CPU build), XGBoost and the few libraries trainforge's data and model code needs;
trainforge's own package reaches it through a directory holding just a link to it, so the
processes run the very trainforge that started them and nothing else of its environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from trainforge.errors import FlowerNotInstalled

VENV_VARIABLE = "TRAINFORGE_FLOWER_VENV"
# torch first and exactly so: any other spec pulls the multi-gigabyte CUDA build
TORCH = "torch==2.13.0"
PACKAGE = Path(__file__).resolve().parents[1]  # this trainforge: src/trainforge or site-packages
# pillow: a CNN's holders decode their own images; xgboost (the platform's own build and
# version): a tree federation's holders boost, and its coordinator writes the first booster
PACKAGES = ("flwr==1.42.0", "numpy", "pandas", "scikit-learn", "pyarrow", "charset-normalizer",
            "pillow", "xgboost-cpu==3.2.0")


def venv_path(home: Path) -> Path:
    """``$TRAINFORGE_FLOWER_VENV``, else ``flower-venv`` in the workspace's home."""
    given = os.environ.get(VENV_VARIABLE)
    return Path(given) if given else home / "flower-venv"


def flower_python(venv: Path) -> Path:
    """The venv's interpreter; FlowerNotInstalled when there is none or it lacks flwr."""
    python = venv / "bin" / "python"
    if not python.is_file() or not any(venv.glob("lib/python*/site-packages/flwr")):
        raise FlowerNotInstalled(str(venv))
    return python


def create_venv(venv: Path, *, say: Callable[[str], None] = print) -> Path:
    """Create ``venv`` with Flower and what trainforge's federated code needs, with pip from
    the package index; returns its interpreter."""
    if not (venv / "bin" / "python").is_file():
        say(f"creating {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    say(f"installing {TORCH} (CPU)")
    subprocess.run([*pip, TORCH], check=True)
    say(f"installing {', '.join(PACKAGES)}")
    subprocess.run([*pip, *PACKAGES], check=True)
    return flower_python(venv)


def code_path(scratch: Path) -> Path:
    """A directory that holds only a link to this trainforge package: on the Flower
    processes' PYTHONPATH it brings trainforge and none of the libraries installed beside it."""
    linked = scratch / "trainforge-code"
    linked.mkdir(parents=True, exist_ok=True)
    link = linked / "trainforge"
    if not link.exists():
        link.symlink_to(PACKAGE, target_is_directory=True)
    return linked
