"""Data and prediction drift: logged rows, window by window, against the package's reference.

Per feature, in each window:

- numbers: the population stability index on the reference's decile bins (drifted at
  ``PSI_THRESHOLD``) and the two-sample Kolmogorov–Smirnov test against the reference sample;
- categories: the chi-squared goodness-of-fit test on the reference shares and the
  Jensen–Shannon distance (base 2, 0 to 1; drifted at ``JS_THRESHOLD``).

A p-value is judged at ``ALPHA`` divided by the number of columns compared in the window
(Bonferroni: with 20 features, one window's chance of a false alarm stays near 1 %). Every
test has its own verdict; the column's (**drifted**) is its test's (KS, chi-squared) in a
window of up to ``TEST_DECIDES_UP_TO`` rows and its distance's (PSI, JS) in a larger one, as
Evidently chooses: on a few hundred rows the distances are noise (JS on 250 rows of a
15-category column is ~0.1 by chance), on many thousands a test finds any change significant,
however small. Missing shares are shown beside the
reference's; schema violations are counted per window: new categories (only when training saw
fewer than ``TOP_CATEGORIES`` values, so every one is known), numbers outside the training
min/max, and values of the wrong type.

Columns the log policy hashed are skipped: their reference holds plain values, and the log's
hash key is not the package's to know.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from trainforge.errors import ConfigError
from trainforge.monitoring.prediction_log import INPUT_PREFIX, OUTPUT_PREFIX
from trainforge.monitoring.reference import bin_shares, category_text

PSI_THRESHOLD = 0.2
JS_THRESHOLD = 0.1  # Jensen–Shannon distance, base 2 (Evidently's default for categories)
ALPHA = 0.01  # before the Bonferroni correction for the number of columns compared
TEST_DECIDES_UP_TO = 1_000  # rows in a window; above, the distance decides
MIN_EXPECTED = 5  # rows a category must be expected to have in a window to be its own bucket
_FLOOR = 1e-4  # a share of 0 would make PSI infinite: empty bins count as this
_WINDOW = re.compile(r"^\s*(\d+)\s*([dhm]?)\s*$")


@dataclass(frozen=True)
class Window:
    """Rows per window (``n_rows``) or a span of time (``span``): one of the two."""

    n_rows: int | None = None
    span: timedelta | None = None

    @classmethod
    def parse(cls, text: str) -> Window:
        """``1000`` (rows), ``6h``, ``1d`` or ``30m``."""
        match = _WINDOW.match(text)
        if match is None or int(match.group(1)) == 0:
            # the value is not repeated: the server answers with this message
            raise ConfigError("the window is neither a row count (e.g. 1000) nor a span "
                              "(e.g. 6h, 1d, 30m); check --window")
        count, unit = int(match.group(1)), match.group(2)
        if not unit:
            return cls(n_rows=count)
        return cls(span=timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: count}))

    def __str__(self) -> str:
        if self.n_rows is not None:
            return f"{self.n_rows} rows"
        return f"{self.span}"


@dataclass(frozen=True)
class TestResult:
    test: str  # "psi", "ks", "chi2" or "js"
    statistic: float
    p_value: float | None
    threshold: float  # the statistic's (psi, js) or the corrected p-value's (ks, chi2)
    drifted: bool


@dataclass(frozen=True)
class ColumnDrift:
    """One feature (or the prediction) in one window."""

    name: str
    kind: str  # "numeric", "categorical" or "skipped"
    tests: tuple[TestResult, ...] = ()
    drifted: bool = False
    missing_share: float = 0.0
    reference_missing_share: float = 0.0
    new_categories: int = 0
    out_of_range: int = 0
    wrong_type: int = 0
    skipped: str | None = None  # why it was not compared

    @property
    def violations(self) -> int:
        return self.new_categories + self.out_of_range + self.wrong_type

    def test(self, name: str) -> TestResult | None:
        return next((t for t in self.tests if t.test == name), None)


@dataclass(frozen=True)
class WindowDrift:
    start: datetime | None
    end: datetime | None
    n_rows: int
    features: tuple[ColumnDrift, ...]
    prediction: ColumnDrift | None

    @property
    def drifted_features(self) -> list[str]:
        return [f.name for f in self.features if f.drifted]

    @property
    def violations(self) -> int:
        return sum(f.violations for f in self.features)

    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["drifted_features"] = self.drifted_features
        return raw


def split_windows(rows: pd.DataFrame, window: Window) -> list[pd.DataFrame]:
    """Consecutive windows of logged rows (oldest first): ``n_rows`` each (the last may be
    shorter), or one per span of time (aligned to the span, empty spans left out)."""
    if len(rows) == 0:
        return []
    if window.n_rows is not None:
        return [rows.iloc[i:i + window.n_rows] for i in range(0, len(rows), window.n_rows)]
    assert window.span is not None  # one of the two, as parse makes it
    times = pd.to_datetime(rows["time"], utc=True)
    keys = times.dt.floor(pd.Timedelta(window.span))
    return [group for _, group in rows.groupby(keys.to_numpy(), sort=True)]


def compare_window(rows: pd.DataFrame, reference: Mapping[str, Any], *,
                   hashed: Sequence[str] = ()) -> WindowDrift:
    """Every feature of ``reference`` and the prediction, in the logged ``rows``."""
    profiles: Mapping[str, Mapping[str, Any]] = reference.get("features", {})
    prediction_ref: Mapping[str, Any] | None = reference.get("prediction")
    compared = [n for n, p in profiles.items() if p.get("kind") != "skipped"
                and n not in hashed and INPUT_PREFIX + n in rows]
    n_tests = max(len(compared) + (prediction_ref is not None), 1)
    alpha = ALPHA / n_tests
    features = []
    for name, profile in profiles.items():
        column = INPUT_PREFIX + name
        if profile.get("kind") == "skipped":
            features.append(ColumnDrift(name, "skipped", skipped=str(profile.get("why"))))
        elif name in hashed:
            features.append(ColumnDrift(name, "skipped", skipped="hashed by the log policy"))
        elif column not in rows:
            features.append(ColumnDrift(name, "skipped", skipped="not logged"))
        else:
            features.append(compare_column(name, rows[column], profile, alpha=alpha))
    prediction = None
    if prediction_ref is not None:
        column = OUTPUT_PREFIX + str(prediction_ref.get("column", "prediction"))
        prediction = (compare_column("prediction", rows[column], prediction_ref, alpha=alpha)
                      if column in rows else
                      ColumnDrift("prediction", "skipped", skipped="not logged"))
    times = pd.to_datetime(rows["time"], utc=True) if "time" in rows and len(rows) else None
    return WindowDrift(
        start=times.min().to_pydatetime() if times is not None else None,
        end=times.max().to_pydatetime() if times is not None else None,
        n_rows=len(rows), features=tuple(features), prediction=prediction)


def drift_over_windows(rows: pd.DataFrame, reference: Mapping[str, Any], *, window: Window,
                       hashed: Sequence[str] = ()) -> list[WindowDrift]:
    return [compare_window(part, reference, hashed=hashed)
            for part in split_windows(rows, window)]


def compare_column(name: str, values: pd.Series, profile: Mapping[str, Any], *,
                   alpha: float) -> ColumnDrift:
    if profile.get("kind") == "numeric":
        return _numeric(name, values, profile, alpha=alpha)
    return _categorical(name, values, profile, alpha=alpha)


def _numeric(name: str, values: pd.Series, profile: Mapping[str, Any], *,
             alpha: float) -> ColumnDrift:
    missing = values.isna().to_numpy()
    numbers = pd.to_numeric(values.where(~values.map(_is_bool)), errors="coerce")
    wrong_type = int((numbers.isna().to_numpy() & ~missing).sum())
    present = numbers.to_numpy(dtype="float64", na_value=np.nan)
    present = present[np.isfinite(present)]
    low, high = profile.get("min"), profile.get("max")
    out_of_range = (int(((present < low) | (present > high)).sum())
                    if low is not None and high is not None else 0)
    tests: tuple[TestResult, ...] = ()
    if len(present) and profile.get("sample"):
        tests = (psi_test(present, profile), ks_test(present, profile, alpha=alpha))
    return ColumnDrift(name, "numeric", tests, drifted=_drifted(tests, n_rows=len(present)),
                       missing_share=float(missing.mean()) if len(missing) else 0.0,
                       reference_missing_share=float(profile.get("missing", 0.0)),
                       out_of_range=out_of_range, wrong_type=wrong_type)


def _categorical(name: str, values: pd.Series, profile: Mapping[str, Any], *,
                 alpha: float) -> ColumnDrift:
    wrong_type = int(values.map(lambda v: isinstance(v, (list, dict, bytes))).sum())
    text = category_text(values)
    present = text.dropna()
    known: Mapping[str, float] = profile.get("shares", {})
    new = int((~present.isin(list(known))).sum()) if profile.get("complete") else 0
    tests: tuple[TestResult, ...] = ()
    if len(present) and known:
        expected, observed = _category_counts(present, profile)
        tests = (chi2_test(observed, expected, alpha=alpha), js_test(observed, expected))
    return ColumnDrift(name, "categorical", tests,
                       drifted=_drifted(tests, n_rows=len(present)),
                       missing_share=float(text.isna().mean()) if len(text) else 0.0,
                       reference_missing_share=float(profile.get("missing", 0.0)),
                       new_categories=new, wrong_type=wrong_type)


def _drifted(tests: Sequence[TestResult], *, n_rows: int) -> bool:
    deciding = ("ks", "chi2") if n_rows <= TEST_DECIDES_UP_TO else ("psi", "js")
    return any(t.drifted for t in tests if t.test in deciding)


def _category_counts(present: pd.Series, profile: Mapping[str, Any]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Reference shares and observed counts over the known categories plus one "other"
    bucket: the rest of training's values, any new one, and the categories this window
    expects fewer than ``MIN_EXPECTED`` rows of (chi-squared is not valid below that; 40 rare
    countries made most small windows "drift"). An "other" bucket itself that rare joins the
    rarest kept category. New categories are counted apart, as violations."""
    known: Mapping[str, float] = profile["shares"]
    counts = present.value_counts()
    kept = [k for k, share in known.items() if share * len(present) >= MIN_EXPECTED]
    observed = [float(counts.get(k, 0)) for k in kept]
    observed.append(float(len(present) - sum(observed)))
    expected = [float(known[k]) for k in kept]
    expected.append(max(1.0 - sum(expected), 0.0))
    if kept and expected[-1] * len(present) < MIN_EXPECTED:  # too rare alone: join the rarest
        observed[-2:] = [observed[-2] + observed[-1]]
        expected[-2:] = [expected[-2] + expected[-1]]
    return np.asarray(expected), np.asarray(observed)


def psi(expected: np.ndarray, observed: np.ndarray) -> float:
    """Population stability index of two share vectors (each summing to 1)."""
    e, o = np.maximum(expected, _FLOOR), np.maximum(observed, _FLOOR)
    return float(np.sum((o - e) * np.log(o / e)))


def psi_test(present: np.ndarray, profile: Mapping[str, Any]) -> TestResult:
    shares = bin_shares(present, np.asarray(profile["edges"], dtype="float64"))
    value = psi(np.asarray(profile["shares"], dtype="float64"), shares)
    return TestResult("psi", value, None, PSI_THRESHOLD, value >= PSI_THRESHOLD)


def ks_test(present: np.ndarray, profile: Mapping[str, Any], *, alpha: float) -> TestResult:
    from scipy.stats import ks_2samp

    # the asymptotic p-value: the exact one costs ~50 ms a window and differs in the 3rd digit
    result = ks_2samp(present, np.asarray(profile["sample"], dtype="float64"), method="asymp")
    p_value = float(result.pvalue)
    return TestResult("ks", float(result.statistic), p_value, alpha, p_value < alpha)


def chi2_test(observed: np.ndarray, expected_shares: np.ndarray, *,
              alpha: float) -> TestResult:
    from scipy.stats import chisquare

    if len(observed) < 2:  # one category left after pooling: nothing can differ
        return TestResult("chi2", 0.0, 1.0, alpha, False)
    shares = np.maximum(expected_shares, _FLOOR)
    expected = shares / shares.sum() * observed.sum()
    result = chisquare(observed, expected)
    p_value = float(result.pvalue)
    statistic = float(result.statistic)
    if not math.isfinite(p_value):  # an empty window: no evidence either way
        p_value = 1.0
    return TestResult("chi2", statistic if math.isfinite(statistic) else 0.0, p_value, alpha,
                      p_value < alpha)


def js_test(observed: np.ndarray, expected_shares: np.ndarray) -> TestResult:
    from scipy.spatial.distance import jensenshannon

    value = float(jensenshannon(expected_shares, observed / max(observed.sum(), 1.0), base=2))
    value = value if math.isfinite(value) else 0.0
    return TestResult("js", value, None, JS_THRESHOLD, value >= JS_THRESHOLD)


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))
