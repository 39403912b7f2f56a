"""The model's metric over time, on logged predictions whose true label has arrived.

``labelled`` is a frame of logged rows (``read_predictions``) with a ``label`` column, as
``monitoring.feedback`` joins them; each window is scored with the metric registry
(``data.metrics``), the same numbers the package's test metrics were computed with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from trainforge.data.metrics import get_metric
from trainforge.data.task import Task
from trainforge.monitoring.drift import Window, split_windows
from trainforge.monitoring.prediction_log import OUTPUT_PREFIX

PROBA_PREFIX = OUTPUT_PREFIX + "proba."


@dataclass(frozen=True)
class MetricPoint:
    start: datetime | None
    end: datetime | None
    n_rows: int  # labelled rows scored (labels of an unknown class are left out)
    metric: str
    value: float  # NaN when the window cannot be scored (e.g. one class for roc_auc)


def performance_over_time(labelled: pd.DataFrame, *, task: Task, metric: str,
                          window: Window) -> list[MetricPoint]:
    """``metric`` of each window of ``labelled`` (oldest first)."""
    chosen = get_metric(metric, task.kind)
    points = []
    for rows in split_windows(labelled, window):
        truth, output = _truth_and_output(rows, task)
        value = chosen.compute(truth, output) if len(truth) else float("nan")
        times = pd.to_datetime(rows["time"], utc=True)
        points.append(MetricPoint(times.min().to_pydatetime(), times.max().to_pydatetime(),
                                  len(truth), chosen.name, float(value)))
    return points


def _truth_and_output(rows: pd.DataFrame, task: Task) -> tuple[np.ndarray, np.ndarray]:
    if not task.kind.is_classification:
        truth = pd.to_numeric(rows["label"], errors="coerce").to_numpy(dtype="float64")
        output = pd.to_numeric(rows[OUTPUT_PREFIX + "prediction"],
                               errors="coerce").to_numpy(dtype="float64")
        keep = np.isfinite(truth) & np.isfinite(output)
        return truth[keep], output[keep]
    codes = {label: code for code, label in enumerate(task.classes)}
    truth = np.asarray([codes.get(str(v), -1) for v in rows["label"]], dtype="int64")
    keep = truth >= 0
    proba_columns = [PROBA_PREFIX + c for c in task.classes]
    if all(c in rows for c in proba_columns):
        output = rows[proba_columns].to_numpy(dtype="float64", na_value=np.nan)
    else:  # only the label was logged: a one-hot of it scores the label metrics alike
        predicted = [codes.get(str(v), -1) for v in rows[OUTPUT_PREFIX + "prediction"]]
        output = np.zeros((len(rows), len(task.classes)))
        for i, code in enumerate(predicted):
            if code >= 0:
                output[i, code] = 1.0
    return truth[keep], output[keep]
