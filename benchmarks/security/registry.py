"""How long loading a tabular model package takes (what the exact allow-list check adds).

    PYTHONPATH=src python benchmarks/security/registry.py

Loads two packages 30 times each and prints the median: the golden package of
tests/registry (ColumnTransformer + LogisticRegression, plus LightGBM) and a package
registered here (TablePreprocessor over numbers, categories and text + a 50-tree random
forest). Run it on the code before and after a change on the same machine.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier

from trainforge.algorithms.model import FeatureSpec, Member, TabularModel, coerce_frame
from trainforge.data.dataset import ColumnKind
from trainforge.data.prepare import make_preprocessor
from trainforge.data.task import Task, TaskKind
from trainforge.registry import load_package
from trainforge.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
REPEATS = 30


def _forest_package(home: Path) -> Path:
    rng = np.random.default_rng(0)
    n_rows = 2_000
    frame = pd.DataFrame({"amount": rng.normal(size=n_rows),
                          "colour": rng.choice(["red", "green", "blue"], n_rows),
                          "note": [" ".join(rng.choice(["good", "bad", "slow"], 4))
                                   for _ in range(n_rows)]})
    schema = {"amount": ColumnKind.NUMERIC, "colour": ColumnKind.CATEGORICAL,
              "note": ColumnKind.TEXT}
    features = [FeatureSpec("amount", ColumnKind.NUMERIC, "number"),
                FeatureSpec("colour", ColumnKind.CATEGORICAL, "string"),
                FeatureSpec("note", ColumnKind.TEXT, "string")]
    y = rng.integers(0, 2, n_rows)
    preprocessor = make_preprocessor(schema, list(schema), style="tree")
    matrix = preprocessor.fit_transform(coerce_frame(frame, features), y)
    forest = RandomForestClassifier(n_estimators=50, random_state=0).fit(matrix, y)
    model = TabularModel(task=Task("y", TaskKind.BINARY, "roc_auc", ("no", "yes")),
                         features=features, members=[Member("random_forest", {}, preprocessor,
                                                            forest)])
    workspace = Workspace(home)
    try:
        return workspace.registry.register(model, name="forest", metrics={}, lineage={}).path
    finally:
        workspace.close()


def _median_load_ms(path: Path) -> float:
    load_package(path)  # warm: imports and the page cache
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        load_package(path)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        golden = Path(shutil.copytree(ROOT / "tests/registry/golden/credit-1",
                                      Path(scratch) / "credit-1"))
        forest = _forest_package(Path(scratch) / "home")
        for name, path in (("golden credit-1", golden), ("TablePreprocessor + forest", forest)):
            print(f"{name:28s} median load {_median_load_ms(path):7.1f} ms over {REPEATS}")


if __name__ == "__main__":
    main()
