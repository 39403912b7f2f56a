"""The training rules of a tabular search, judged once it is done: every trial overfits, a
column leaks the target, or the features cannot predict it. Each is a ``Finding`` (the shape
the network rules report live), with what to try.

    >>> target_unpredictable(validation_score=0.51, baseline_score=0.5, scale=0.5,
    ...                      higher_is_better=True, metric="roc_auc").rule
    'target_unpredictable'
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from trainforge.data.metrics import METRICS
from trainforge.evaluation.diagnosis import OVERFIT_GAP, Diagnosis
from trainforge.runtime.rules import Finding

# rows and columns the leak check reads: one column's power to predict shows on 5,000 rows,
# and 200 columns keep it under a second on wide tables
LEAK_ROWS = 5_000
LEAK_COLUMNS = 200
# a numeric column is cut into this many quantile bins: fine enough that a copy of the target
# scores R² ~0.999, coarse enough that each bin holds ~40 of the rows a fold learns from
LEAK_BINS = 64
# one column alone reaching this (balanced accuracy, or R²) is a leak until shown otherwise:
# the strongest honest single columns of the bench tables reach 0.86 (adult's relationship)
LEAK_SCORE = 0.98
# an ID-like column (integers or codes, nearly all distinct) holding this share of the
# importance: the model learned row identities, which new rows do not share
ID_IMPORTANCE_SHARE = 0.5
ID_UNIQUE_SHARE = 0.9
# validation within this share of the metric's scale of the constant baseline: nothing learned
UNPREDICTABLE_GAIN = 0.02


def every_trial_overfits(fits: Sequence[tuple[str, float, float]], *, scale: float,
                         higher_is_better: bool, metric: str,
                         baseline_score: float | None = None) -> Finding | None:
    """Every trial (at least two) scores OVERFIT_GAP of the scale better on its training rows
    than on validation rows and, where the constant baseline is known, its gap is wider than
    what it gained over the baseline on validation rows: it learned its rows more than the
    target. A forest or booster at ~1.0 on its own 800 rows and 0.78 on new ones against a
    constant's 0.5 (credit_g) is how such models work, not a search gone wrong."""
    if len(fits) < 2 or scale <= 0:
        return None
    sign = 1.0 if higher_is_better else -1.0
    gaps = [sign * (train - valid) / scale for _, train, valid in fits]
    gains = [sign * (valid - baseline_score) / scale if baseline_score is not None else 0.0
             for _, _, valid in fits]
    if min(gaps) < OVERFIT_GAP or any(gap <= gain for gap, gain in zip(gaps, gains, strict=True)):
        return None
    gained = (f", more than any gained on a constant's {baseline_score:.4g}"
              if baseline_score is not None else "")
    return Finding("every_trial_overfits", f"all {len(fits)} trials score better on their "
                   f"training rows than on validation rows ({metric} gap at least "
                   f"{min(gaps):.0%} of the metric's scale{gained}, "
                   f"{len({a for a, _, _ in fits})} algorithms)", "more rows, fewer columns "
                   "(drop IDs and near-duplicates), or an algorithm with stronger regularisation",
                   {"smallest_gap": min(gaps), "trials": float(len(fits))}, where="search")


def target_unpredictable(*, validation_score: float, baseline_score: float | None,
                         scale: float, higher_is_better: bool, metric: str) -> Finding | None:
    """The best candidate's validation score is no better than always predicting the class
    shares or the mean."""
    if baseline_score is None or scale <= 0 or not np.isfinite(validation_score):
        return None
    gain = (validation_score - baseline_score if higher_is_better
            else baseline_score - validation_score) / scale
    if gain >= UNPREDICTABLE_GAIN:
        return None
    return Finding("target_unpredictable", f"the best model's validation {metric} "
                   f"{validation_score:.4g} is no better than a constant's "
                   f"{baseline_score:.4g}", "checking that --target is the column meant and "
                   "its labels are right, then adding columns that bear on it",
                   {"validation_score": validation_score, "baseline_score": baseline_score,
                    "gain": gain}, where="search")


def leaking_column(frame: pd.DataFrame, *, target: str, features: Sequence[str],
                   classification: bool, seed: int) -> Finding | None:
    """The first column (of at most LEAK_COLUMNS) that alone predicts the target to LEAK_SCORE,
    out of fold on up to LEAK_ROWS rows."""
    rows = frame.sample(n=min(LEAK_ROWS, len(frame)), random_state=seed)
    truth = rows[target]
    y = (pd.factorize(truth.astype(str))[0] if classification
         else truth.to_numpy(dtype=np.float64))
    halves = np.random.default_rng(seed).permutation(len(rows)) % 2 == 0
    if len(rows) < 20 or halves.all() or not halves.any():
        return None
    best: tuple[float, str] | None = None
    for column in list(features)[:LEAK_COLUMNS]:
        score = _alone(_groups(rows[column]), y, halves, classification=classification)
        if score >= LEAK_SCORE and (best is None or score > best[0]):
            best = (score, column)
    if best is None:
        return None
    what = "balanced accuracy" if classification else "R²"
    return Finding("leaking_column", f"column {best[1]!r} alone predicts {target!r} with "
                   f"{what} {best[0]:.3f}", f"checking that {best[1]!r} is known before the "
                   "target is; if not, leave it out of the features",
                   {"score": best[0]}, where="search")


def id_column_dominates(importance: Sequence[tuple[str, float, float]],
                        frame: pd.DataFrame) -> Finding | None:
    """An ID-like column holds ID_IMPORTANCE_SHARE of the permutation importance."""
    positive = [(name, mean) for name, mean, _ in importance if mean > 0]
    total = sum(mean for _, mean in positive)
    if not positive or total <= 0:
        return None
    name, mean = max(positive, key=lambda item: item[1])
    if mean / total < ID_IMPORTANCE_SHARE or name not in frame or not _id_like(frame[name]):
        return None
    return Finding("leaking_column", f"{mean / total:.0%} of the importance is in {name!r}, "
                   "whose values are nearly all distinct (an ID)", f"leaving {name!r} out of "
                   "the features: new rows have IDs the model never saw",
                   {"importance_share": mean / total}, where="search")


def _id_like(column: pd.Series) -> bool:
    values = column.dropna()
    if len(values) == 0 or values.nunique() < ID_UNIQUE_SHARE * len(values):
        return False
    if pd.api.types.is_integer_dtype(values):
        return True
    return bool(pd.api.types.is_string_dtype(values)
                and not values.astype(str).str.contains(r"\s").any())  # codes, not text


def _groups(column: pd.Series) -> np.ndarray:
    """Each row's group: a quantile bin for numbers (missing: a bin of its own), else the value."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = values[np.isfinite(values)]
        if len(finite) == 0:
            return np.zeros(len(values), dtype=np.int64)
        edges = np.unique(np.quantile(finite, np.linspace(0, 1, LEAK_BINS + 1)[1:-1]))
        codes = np.searchsorted(edges, values, side="right")
        return np.where(np.isfinite(values), codes, LEAK_BINS + 1)
    return np.asarray(pd.factorize(column.astype(str))[0], dtype=np.int64)


def _alone(groups: np.ndarray, y: np.ndarray, halves: np.ndarray, *,
           classification: bool) -> float:
    """The score of predicting each row from its group's target in the other half: the
    commonest class, or the mean (a group the other half lacks gets the overall one)."""
    predicted = np.empty(len(y), dtype=np.float64)
    for held in (halves, ~halves):
        learned = pd.DataFrame({"g": groups[~held], "y": y[~held]})
        if classification:
            counts = learned.groupby(["g", "y"]).size().rename("n").reset_index()
            table = counts.sort_values("n", kind="stable").drop_duplicates("g", keep="last") \
                .set_index("g")["y"]
            fallback = float(pd.Series(y[~held]).value_counts().index[0])
        else:
            table = learned.groupby("g")["y"].mean()
            fallback = float(np.mean(y[~held]))
        predicted[held] = pd.Series(groups[held]).map(table).fillna(fallback).to_numpy()
    # the registry's fast twins: scikit-learn's values within 1e-9, without the ~2 ms of input
    # checks it spends on each of these calls (one per column)
    if classification:
        return METRICS["balanced_accuracy"].fast(y, predicted.astype(np.int64))
    return METRICS["r2"].fast(y, predicted)


def search_findings(*, fits: Sequence[tuple[str, float, float]], diagnosis: Diagnosis,
                    importance: Sequence[tuple[str, float, float]], frame: pd.DataFrame,
                    target: str, features: Sequence[str], classification: bool,
                    seed: int) -> list[Finding]:
    """Every search rule that fires on a finished search, in a fixed order."""
    found = [every_trial_overfits(fits, scale=diagnosis.scale,
                                  higher_is_better=diagnosis.higher_is_better,
                                  metric=diagnosis.metric,
                                  baseline_score=diagnosis.baseline_score),
             leaking_column(frame, target=target, features=features,
                            classification=classification, seed=seed)]
    if found[-1] is None:  # one leak finding is enough: the same column tops the importance
        found.append(id_column_dominates(importance, frame))
    found.append(target_unpredictable(validation_score=diagnosis.validation_score,
                                      baseline_score=diagnosis.baseline_score,
                                      scale=diagnosis.scale,
                                      higher_is_better=diagnosis.higher_is_better,
                                      metric=diagnosis.metric))
    return [f for f in found if f is not None]
