"""The house rule of ../shared/DESIGN.md that code can check: imports flow one way.

Every import counts: at the top of a module, inside a function, and under ``TYPE_CHECKING``
(a type-only import still says one package knows the other, and the day it is needed at run
time it is a cycle).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from tests._paths import ROOT

PACKAGE = ROOT / "src" / "trainforge"
# The one place the order is written, bottom to top: a package may import only the layers
# before its own (packages sharing a layer import neither way). First the facts every step
# uses; then the lifecycle, data ─▶ … ─▶ serving, with runtime (the PyTorch loop, checkpoints,
# events) under the steps that run it, evaluation under training (it judges results and never
# imports training, DESIGN.md), rl beside training (learning with its own loop, on runtime's
# events and evaluation's report); the store and registry that keep what was made, the
# workspace composing them; the application layer and the SDK's model objects (which name
# the jobs' outcomes); last the doors: the SDK, the server, the
# CLI (which starts the server and calls the SDK).
LAYERS = [
    ("version",), ("json_value",), ("errors",), ("config",),
    ("data",), ("runtime",), ("algorithms",), ("evaluation",), ("training", "rl", "federated"),
    ("store",), ("registry",), ("serving",), ("monitoring",), ("labeling",),
    ("workspace",), ("jobs",), ("model",),
    ("__init__",), ("client",), ("server",), ("cli",), ("__main__",),
]
RANK = {part: rank for rank, layer in enumerate(LAYERS) for part in layer}
# DESIGN's promises the order cannot state: serving loads a registry package and never the
# code that trains (tests/serving also checks that at run time)
NEVER = {"serving": {"training", "runtime"}}


def part_of(module: str) -> str:
    """The part of trainforge (a key of RANK) that ``module``, dotted below trainforge, is in
    ("" is trainforge itself, the SDK)."""
    return module.split(".")[0] or "__init__"


def imported_modules(source: str, *, importer: str) -> list[tuple[int, str]]:
    """(line, module dotted below trainforge) for each trainforge import in ``source``, the
    text of module ``importer``, wherever the import stands."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, _below_trainforge(a.name)) for a in node.names
                      if a.name.split(".")[0] == "trainforge"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the importer's own package
                base = importer.split(".")[:-node.level]
                module = ".".join([*base, *filter(None, [node.module])])
            elif (node.module or "").split(".")[0] == "trainforge":
                module = _below_trainforge(node.module or "")
            else:
                continue
            # `from trainforge import model` names a module; `from trainforge import train`
            # names something the SDK defines
            found += [(node.lineno, a.name if not module and _is_module(a.name) else module)
                      for a in node.names]
    return found


def _below_trainforge(name: str) -> str:
    return name.removeprefix("trainforge").lstrip(".")


def _is_module(name: str) -> bool:
    return (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE).with_suffix("").parts)


def wrong_way_imports(source: str, *, importer: str) -> list[str]:
    """Each import in ``source`` of a part of trainforge at or above the importer's layer, or
    one that ``NEVER`` rules out."""
    own = part_of(importer)
    wrong = {(line, module) for line, module in imported_modules(source, importer=importer)
             if part_of(module) != own and (RANK[part_of(module)] >= RANK[own]
                                            or part_of(module) in NEVER.get(own, set()))}
    return [f"{importer}:{line} imports {'.'.join(['trainforge', *filter(None, [module])])}"
            for line, module in sorted(wrong)]


def test_every_part_of_trainforge_has_a_place_in_the_layers():
    parts = {part_of(_module_name(path)) for path in PACKAGE.rglob("*.py")}
    assert parts - set(RANK) == set()


@pytest.mark.parametrize("part", RANK)
def test_a_part_of_trainforge_imports_only_the_layers_below_it(part: str):
    modules = [p for p in sorted(PACKAGE.rglob("*.py")) if part_of(_module_name(p)) == part]
    assert [w for p in modules
            for w in wrong_way_imports(p.read_text(), importer=_module_name(p))] == []


def test_an_import_inside_a_function_or_under_type_checking_runs_the_wrong_way_too():
    source = ("from typing import TYPE_CHECKING\n"
              "if TYPE_CHECKING:\n    from trainforge.training.automl import run_automl\n"
              "def read():\n    import trainforge.serving.app\n")
    assert wrong_way_imports(source, importer="data.read") == [
        "data.read:3 imports trainforge.training.automl",
        "data.read:5 imports trainforge.serving.app"]


def test_a_relative_import_is_judged_by_the_module_it_names():
    source = "from ..serving import app\nfrom . import schema\n"
    assert wrong_way_imports(source, importer="data.read") == ["data.read:1 imports trainforge.serving"]


def test_a_door_importing_the_sdk_by_its_name_is_an_import_of_the_sdk():
    assert imported_modules("from trainforge import model, evaluate\n", importer="cli.app") == [
        (1, "model"), (1, "")]


def test_serving_never_imports_the_code_that_trains_though_it_stands_above_it():
    source = "from trainforge.runtime.loop import Trainer\n"
    assert wrong_way_imports(source, importer="serving.batch") == [
        "serving.batch:1 imports trainforge.runtime.loop"]


def test_rl_and_training_share_a_layer_and_import_neither_way():
    source = "from trainforge.training.checkpoints import save_checkpoint\n"
    assert wrong_way_imports(source, importer="rl.resume") == [
        "rl.resume:1 imports trainforge.training.checkpoints"]


# Flower lives in a virtualenv of its own (its pins clash with FastAPI and Typer here): only
# the federated/flower_* modules, which run there, may import it, and no other module may
# import them, so trainforge's own environment never loads flwr
FLOWER_SIDE = "federated.flower_"


def imports_of_flower(source: str) -> list[int]:
    """The lines of ``source`` that import flwr."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            lines += [node.lineno for a in node.names if a.name.split(".")[0] == "flwr"]
        elif isinstance(node, ast.ImportFrom) and not node.level and (
                (node.module or "").split(".")[0] == "flwr"):
            lines.append(node.lineno)
    return lines


def test_only_the_flower_side_modules_import_flwr():
    modules = [(p, _module_name(p)) for p in sorted(PACKAGE.rglob("*.py"))]
    assert [f"{name}:{line}" for path, name in modules if not name.startswith(FLOWER_SIDE)
            for line in imports_of_flower(path.read_text())] == []


def test_no_module_imports_the_flower_side_but_the_flower_side():
    modules = [(p, _module_name(p)) for p in sorted(PACKAGE.rglob("*.py"))]
    assert [f"{name}:{line} imports {module}" for path, name in modules
            if not name.startswith(FLOWER_SIDE)
            for line, module in imported_modules(path.read_text(), importer=name)
            if module.startswith(FLOWER_SIDE)] == []


def test_the_flower_side_is_found_importing_flwr_in_each_form():
    source = "import flwr\nfrom flwr.server.strategy import FedAvg\nimport flwrx\n"
    assert imports_of_flower(source) == [1, 2]


def test_the_cli_and_the_federated_job_run_without_flwr():
    probe = ("import sys, trainforge.cli.app, trainforge.jobs.federate, "
             "trainforge.federated.processes, trainforge.federated.environment; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] == 'flwr'))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"
