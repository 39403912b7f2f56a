"""The house rules of ../shared/DESIGN.md that code can check: imports flow one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from tests._paths import ROOT

PACKAGE = ROOT / "src" / "trainforge"
# the lifecycle, left to right: a step may import the steps left of it, never those right of it
LIFECYCLE = ["data", "algorithms", "training", "evaluation", "registry", "serving", "monitoring"]
# DESIGN: deep nets are estimators that "wrap the PyTorch loop": the network estimator's fit
# imports the loop. Predicting does not (tests/serving checks that serving never loads it).
ALLOWED = {"algorithms/network.py": {"training"}}


def _trainforge_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("trainforge."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("trainforge.")}
    return found


@pytest.mark.parametrize("step", LIFECYCLE)
def test_a_lifecycle_step_imports_only_the_steps_left_of_it(step: str):
    right_of_it = set(LIFECYCLE[LIFECYCLE.index(step) + 1:]) | {"cli", "server"}
    offending = {str(path.relative_to(PACKAGE)): sorted(
        _trainforge_imports(path) & right_of_it - ALLOWED.get(str(path.relative_to(PACKAGE)),
                                                              set()))
                 for path in (PACKAGE / step).rglob("*.py")}
    assert {k: v for k, v in offending.items() if v} == {}
