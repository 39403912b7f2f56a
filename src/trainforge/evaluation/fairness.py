"""How a model treats each group of the sensitive columns: Fairlearn's MetricFrame on the test
split, per group of each column and of their intersection, and the disparities with bootstrap
confidence intervals.

    assessed = assess(y_true, y_pred, sensitive=test_frame[["sex"]], task=task, seed=0)
    assessed["summary"]["demographic_parity_difference"]  # {"value", "low", "high"}

Binary classification: per group the size, selection rate (share predicted the positive class,
the second of ``Task.classes``), true and false positive rates and accuracy; the disparities are
Fairlearn's demographic-parity and equalized-odds differences and ratios. Multiclass: each class
is taken one-vs-rest, each group's selection rate of every class is listed
(``selection_rate_by_class``), and a disparity is the worst over the classes (largest
difference, smallest ratio). Regression: each group's mean absolute error; the disparities are
of that error (``error_difference``, ``error_ratio``); parity and odds are left null.

The intervals are percentile intervals of ``N_RESAMPLES`` bootstrap resamples of the test rows:
1,000 puts the 2.5 % and 97.5 % quantiles within about ±0.005 of their limit on adult, at
~0.1 s per column (numpy, not a MetricFrame per resample). A group with fewer than
``MIN_GROUP_ROWS`` test rows is shown but left out of the intervals (a note says so): a
resample of it is mostly noise, and often empty.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, mean_absolute_error

from trainforge.algorithms.group_thresholds import JOIN, group_keys
from trainforge.data.task import Task, TaskKind

N_RESAMPLES = 1_000
MIN_GROUP_ROWS = 20
CONFIDENCE = 0.95
SUMMARY_KEYS = ("demographic_parity_difference", "demographic_parity_ratio",
                "equalized_odds_difference", "equalized_odds_ratio")

Disparity = Callable[[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray], float]


def sensitive_groups(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, list[str]]:
    """Each row's group per column, and per intersection when there are several columns
    (keyed "sex×race"): the rows' group names as ``group_thresholds.group_keys`` gives them."""
    values = {name: frame[name].tolist() for name in columns}
    groups = {name: group_keys(values, [name]) for name in columns}
    if len(columns) > 1:
        groups[JOIN.join(columns)] = group_keys(values, list(columns))
    return groups


def assess(y_true: np.ndarray, y_pred: np.ndarray, *, sensitive: pd.DataFrame, task: Task,
           seed: int, constraint: str | None = None) -> dict[str, Any]:
    """The fairness record (``fairness.json``) of predictions on the test split.

    ``y_true``/``y_pred`` are class codes (0..k-1, ``Task.classes`` order) or numbers;
    ``sensitive`` holds the sensitive columns of the same rows.
    """
    columns = list(sensitive.columns)
    by_column = sensitive_groups(sensitive, columns)
    notes: list[str] = []
    groups: list[dict[str, Any]] = []
    for feature, keys in by_column.items():
        groups += _group_table(y_true, y_pred, keys, feature=feature, task=task)
        notes += [f"group {row['group']!r} of {feature} has {row['size']} rows in the test "
                  f"split (fewer than {MIN_GROUP_ROWS}): shown, but left out of the confidence "
                  "intervals" for row in groups
                  if row["feature"] == feature and row["size"] < MIN_GROUP_ROWS]
    rng = np.random.default_rng(seed)
    by_feature = {feature: _summary(y_true, y_pred, keys, task=task, rng=rng)
                  for feature, keys in by_column.items()}
    # Fairlearn's convention for several columns: the disparity across their intersections
    summary = by_feature[JOIN.join(columns) if len(columns) > 1 else columns[0]]
    if any(v["value"] is not None and v["low"] is None for v in summary.values()):
        notes.append("fewer than two groups have enough test rows for a confidence interval; "
                     "the intervals are left out")
    if task.kind is TaskKind.REGRESSION:
        notes.append("demographic parity and equalized odds are defined for classifiers; for "
                     "this regressor the disparity is of the mean absolute error per group")
    elif task.kind is TaskKind.MULTICLASS:
        notes.append("multiclass: each class is taken one-vs-rest and a disparity is the worst "
                     "over the classes; selection_rate_by_class gives each group's rates")
    return {"sensitive_features": columns, "constraint": constraint,
            "positive_class": task.classes[1] if task.kind is TaskKind.BINARY else None,
            "groups": groups, "summary": summary,
            **({"summary_by_feature": by_feature} if len(by_feature) > 1 else {}),
            "resamples": N_RESAMPLES, "confidence": CONFIDENCE, "notes": notes}


def _number(value: Any) -> float | None:
    number = float(value)
    return number if np.isfinite(number) else None


def _group_table(y_true: np.ndarray, y_pred: np.ndarray, keys: list[str], *, feature: str,
                 task: Task) -> list[dict[str, Any]]:
    """One row per group of ``keys``: Fairlearn's MetricFrame, by group."""
    metrics: dict[str, Callable[..., Any]] = {"size": count}
    if task.kind is TaskKind.BINARY:
        metrics.update(selection_rate=selection_rate, true_positive_rate=true_positive_rate,
                       false_positive_rate=false_positive_rate, accuracy=accuracy_score)
    elif task.kind is TaskKind.MULTICLASS:
        metrics["accuracy"] = accuracy_score
    else:
        metrics["error"] = mean_absolute_error
    with warnings.catch_warnings():  # a group without positives has no TPR: null, not a warning
        warnings.simplefilter("ignore")
        frame = MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred,
                            sensitive_features=pd.Series(keys, name=feature)).by_group
    rows = []
    for group, values in frame.iterrows():
        row: dict[str, Any] = {"feature": feature, "group": str(group),
                               "size": int(values["size"])}
        for key in ("selection_rate", "true_positive_rate", "false_positive_rate", "accuracy",
                    "error"):
            row[key] = _number(values[key]) if key in values else None
        if task.kind is TaskKind.MULTICLASS:
            chosen = y_pred[np.asarray(keys, dtype=object) == group]
            row["selection_rate_by_class"] = {label: float(np.mean(chosen == code))
                                              for code, label in enumerate(task.classes)}
        rows.append(row)
    return rows


def _summary(y_true: np.ndarray, y_pred: np.ndarray, keys: list[str], *, task: Task,
             rng: np.random.Generator) -> dict[str, dict[str, float | None]]:
    """Each disparity's value over all groups (Fairlearn's), and its bootstrap interval over
    the groups with at least ``MIN_GROUP_ROWS`` test rows."""
    names, codes = np.unique(np.asarray(keys, dtype=object), return_inverse=True)
    sizes = np.bincount(codes, minlength=len(names))
    kept = sizes >= MIN_GROUP_ROWS
    everyone = np.ones(len(names), dtype=bool)  # the value is over all groups, as Fairlearn's
    if task.kind is TaskKind.REGRESSION:
        empty = {"value": None, "low": None, "high": None}
        errors = np.abs(np.asarray(y_true, float) - np.asarray(y_pred, float))
        values = {"error_difference": _error_disparity(errors, codes, len(names), everyone,
                                                       "diff"),
                  "error_ratio": _error_disparity(errors, codes, len(names), everyone,
                                                  "ratio")}
        intervals = _bootstrap(values, lambda idx: {
            "error_difference": _error_disparity(errors[idx], codes[idx], len(names), kept,
                                                 "diff"),
            "error_ratio": _error_disparity(errors[idx], codes[idx], len(names), kept,
                                            "ratio")}, n_rows=len(codes), rng=rng,
            enough=int(kept.sum()) >= 2)
        return {**{key: dict(empty) for key in SUMMARY_KEYS}, **intervals}
    n_classes = 2 if task.kind is TaskKind.BINARY else len(task.classes)
    # binary: the positive class (code 1); multiclass: every class one-vs-rest, the worst
    targets = [1] if task.kind is TaskKind.BINARY else list(range(n_classes))
    true_sets = [(y_true == t).astype(float) for t in targets]
    pred_sets = [(y_pred == t).astype(float) for t in targets]
    # the values over every group are Fairlearn's (tests/evaluation/test_fairness.py pins
    # that); counted here, as a MetricFrame per disparity costs ~0.3 s
    values = _worst_of(true_sets, pred_sets, codes, len(names), everyone)

    def resampled(idx: np.ndarray) -> dict[str, float]:
        return _worst_of([t[idx] for t in true_sets], [p[idx] for p in pred_sets], codes[idx],
                         len(names), kept)

    return _bootstrap(values, resampled, n_rows=len(codes), rng=rng, enough=int(kept.sum()) >= 2)


def _worst_of(true_sets: list[np.ndarray], pred_sets: list[np.ndarray], codes: np.ndarray,
              n_groups: int, kept: np.ndarray) -> dict[str, float]:
    """The disparities of each class (one-vs-rest), the worst of them."""
    found: dict[str, list[float]] = {key: [] for key in SUMMARY_KEYS}
    for true01, pred01 in zip(true_sets, pred_sets, strict=True):
        for key, value in _disparities(true01, pred01, codes, n_groups, kept).items():
            found[key].append(value)
    return {key: _worst(key, values) for key, values in found.items()}


def _worst(key: str, values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    if not finite:
        return float("nan")
    return min(finite) if key.endswith("ratio") else max(finite)


def _disparities(true01: np.ndarray, pred01: np.ndarray, codes: np.ndarray, n_groups: int,
                 kept: np.ndarray) -> dict[str, float]:
    """Fairlearn's four disparities from group counts (what each bootstrap resample needs)."""
    size = np.bincount(codes, minlength=n_groups).astype(float)
    positives = np.bincount(codes, weights=true01, minlength=n_groups)
    chosen = np.bincount(codes, weights=pred01, minlength=n_groups)
    hits = np.bincount(codes, weights=true01 * pred01, minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        selection = chosen / size
        tpr = hits / positives
        fpr = (chosen - hits) / (size - positives)
    present = kept & (size > 0)
    return {"demographic_parity_difference": _spread(selection[present], "diff"),
            "demographic_parity_ratio": _spread(selection[present], "ratio"),
            "equalized_odds_difference": max(_spread(tpr[present], "diff"),
                                             _spread(fpr[present], "diff")),
            "equalized_odds_ratio": min(_spread(tpr[present], "ratio"),
                                        _spread(fpr[present], "ratio"))}


def _error_disparity(errors: np.ndarray, codes: np.ndarray, n_groups: int, kept: np.ndarray,
                     how: str) -> float:
    size = np.bincount(codes, minlength=n_groups).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.bincount(codes, weights=errors, minlength=n_groups) / size
    return _spread(mean[kept & (size > 0)], how)


def _spread(rates: np.ndarray, how: str) -> float:
    rates = rates[np.isfinite(rates)]
    if len(rates) < 2:
        return float("nan")
    low, high = float(rates.min()), float(rates.max())
    if how == "diff":
        return high - low
    return low / high if high > 0 else float("nan")


def _bootstrap(values: dict[str, float], resampled: Callable[[np.ndarray], dict[str, float]], *,
               n_rows: int, rng: np.random.Generator, enough: bool
               ) -> dict[str, dict[str, float | None]]:
    """``values`` with percentile intervals over ``N_RESAMPLES`` resamples of the rows (none
    when fewer than two groups are big enough)."""
    draws: dict[str, list[float]] = {key: [] for key in values}
    if enough:
        for _ in range(N_RESAMPLES):
            for key, value in resampled(rng.integers(0, n_rows, size=n_rows)).items():
                draws[key].append(value)
    tail = (1.0 - CONFIDENCE) / 2 * 100
    out: dict[str, dict[str, float | None]] = {}
    for key, value in values.items():
        found = np.asarray(draws[key], dtype=float)
        found = found[np.isfinite(found)]
        low, high = (np.percentile(found, [tail, 100 - tail]) if len(found)
                     else (np.nan, np.nan))
        out[key] = {"value": _number(value), "low": _number(low), "high": _number(high)}
    return out
