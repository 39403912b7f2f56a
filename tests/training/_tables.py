"""A small synthetic table with a known signal, for the search and refit tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainforge.data.dataset import ColumnKind as K
from trainforge.data.task import DEFAULT_METRIC, Task, TaskKind

SCHEMA = {"x1": K.NUMERIC, "x2": K.NUMERIC, "colour": K.CATEGORICAL}
FEATURES = ["x1", "x2", "colour"]


def table(kind: TaskKind, n_rows: int = 200, seed: int = 0,
          metric: str | None = None) -> tuple[pd.DataFrame, Task]:
    """Two numbers and a category with gaps; the target follows x1 and colour, plus noise."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=n_rows), "x2": rng.normal(size=n_rows),
                          "colour": rng.choice(["red", "blue", None], n_rows)})
    signal = frame["x1"] + (frame["colour"] == "red") + 0.3 * rng.normal(size=n_rows)
    chosen = metric or DEFAULT_METRIC[kind]
    if kind is TaskKind.REGRESSION:
        return frame.assign(y=2.0 * signal), Task("y", kind, chosen)
    if kind is TaskKind.BINARY:
        labels = np.where(signal > 0.3, "yes", "no")
        return frame.assign(y=labels), Task("y", kind, chosen, ("no", "yes"))
    labels = np.asarray(["a", "b", "c"])[np.digitize(signal, [-0.3, 0.8])]
    return frame.assign(y=labels), Task("y", kind, chosen, ("a", "b", "c"))
