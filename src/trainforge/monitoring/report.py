"""The monitoring report: a deployment's drift, violations and metrics over time as plots, in
one self-contained HTML page (``trainforge monitor -o``) and on the web UI's page.

Import this module only when drawing: it imports matplotlib.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from trainforge.evaluation.plots import as_png, new_figure
from trainforge.monitoring.drift import JS_THRESHOLD, PSI_THRESHOLD, ColumnDrift, WindowDrift
from trainforge.monitoring.monitor import Monitoring
from trainforge.monitoring.prediction_log import INPUT_PREFIX, OUTPUT_PREFIX
from trainforge.monitoring.reference import bin_shares, category_text

_LINES = 8  # features drawn per over-time plot: the most drifted of the latest window
_HISTOGRAMS = 4
_BARS = 12  # categories per histogram
_WIDE = (9.6, 3.5)


def write_monitoring_report(path: Path, result: Monitoring) -> Path:
    """Write the HTML report of ``result`` to ``path`` and return it."""
    from trainforge.evaluation.report import render_page

    return render_page(path, "monitoring.html.j2", title=f"{result.deployment} — monitoring",
                       result=result, rows=feature_rows(result.latest),
                       plots=monitoring_plots(result))


def feature_rows(window: WindowDrift | None) -> list[dict[str, Any]]:
    """One row per column of ``window`` (the prediction last), drifted ones first."""
    if window is None:
        return []
    columns = [*window.features, *([window.prediction] if window.prediction else [])]
    rows = [_row(c) for c in columns]
    return sorted(rows, key=lambda r: (not r["drifted"], r["skipped"] is not None))


def _row(column: ColumnDrift) -> dict[str, Any]:
    tests = {t.test: t for t in column.tests}
    shown = " · ".join(
        f"{t.test} {t.statistic:.3g}" + (f" (p={t.p_value:.2g} < {t.threshold:.2g}?)"
                                         if t.p_value is not None else f" (≥ {t.threshold:g}?)")
        for t in tests.values())
    return {"name": column.name, "kind": column.kind, "drifted": column.drifted,
            "tests": shown, "missing": column.missing_share,
            "reference_missing": column.reference_missing_share,
            "new_categories": column.new_categories, "out_of_range": column.out_of_range,
            "wrong_type": column.wrong_type, "skipped": column.skipped}


def monitoring_plots(result: Monitoring) -> dict[str, str]:
    """Title → base64 PNG, for what there is to draw."""
    plots: dict[str, str] = {}
    if len(result.windows) > 1:
        for test, threshold, label in (("psi", PSI_THRESHOLD, "PSI per window (numbers)"),
                                       ("js", JS_THRESHOLD,
                                        "Jensen–Shannon distance per window (categories)")):
            drawn = _over_windows(result.windows, test, threshold, label)
            if drawn:
                plots[label] = drawn
        plots["Missing values and violations per window"] = _violations(result.windows)
    latest = result.latest
    if latest is not None and result.reference is not None and result.latest_rows is not None:
        profiles: Mapping[str, Any] = result.reference.get("features", {})
        ranked = sorted((c for c in latest.features if c.tests),
                        key=lambda c: -max(t.statistic for t in c.tests if t.test in
                                           ("psi", "js")))
        for column in ranked[:_HISTOGRAMS]:
            values = result.latest_rows[INPUT_PREFIX + column.name]
            plots[f"{column.name}: reference vs latest window"] = _histogram(
                column.name, profiles[column.name], values)
        prediction = result.reference.get("prediction")
        out = OUTPUT_PREFIX + str((prediction or {}).get("column", "prediction"))
        if prediction is not None and out in result.latest_rows:
            plots["Predictions: reference vs latest window"] = _histogram(
                "prediction", prediction, result.latest_rows[out])
    if result.performance:
        plots[f"{result.metric} over time"] = _performance(result)
    return plots


def _over_windows(windows: Sequence[WindowDrift], test: str, threshold: float,
                  title: str) -> str | None:
    series: dict[str, list[float]] = {}
    for index, window in enumerate(windows):
        for column in window.features:
            found = column.test(test)
            if found is not None:
                series.setdefault(column.name, [np.nan] * len(windows))[index] = found.statistic
    if not series:
        return None
    worst = sorted(series, key=lambda n: -np.nan_to_num(series[n][-1]))[:_LINES]
    figure, axes = new_figure(title, size=_WIDE, right_in=1.8)
    for name in worst:
        axes.plot(range(1, len(windows) + 1), series[name], marker=".", label=name)
    axes.axhline(threshold, color="#dc2626", linestyle="--", linewidth=1, label="threshold")
    _windows_axis(axes)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return as_png(figure)


def _windows_axis(axes: Axes) -> None:
    axes.set_xlabel("window (oldest first)", fontsize=8)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))


def _violations(windows: Sequence[WindowDrift]) -> str:
    figure, axes = new_figure("Missing values and violations per window", size=_WIDE,
                              right_in=1.8)
    x = range(1, len(windows) + 1)
    for label, values in (
            ("new categories", [sum(c.new_categories for c in w.features) for w in windows]),
            ("out of range", [sum(c.out_of_range for c in w.features) for w in windows]),
            ("wrong type", [sum(c.wrong_type for c in w.features) for w in windows]),
            ("missing values", [sum(round(c.missing_share * w.n_rows) for c in w.features)
                                for w in windows])):
        axes.plot(x, values, marker=".", label=label)
    _windows_axis(axes)
    axes.set_ylabel("values", fontsize=8)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return as_png(figure)


def _histogram(name: str, profile: Mapping[str, Any], values: pd.Series) -> str:
    figure, axes = new_figure(f"{name}: reference vs latest window", bottom_in=0.9)
    if profile.get("kind") == "numeric":
        edges = np.asarray(profile["edges"], dtype="float64")
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64",
                                                                  na_value=np.nan)
        recent = bin_shares(numbers[np.isfinite(numbers)], edges)
        labels = ([f"≤ {e:.3g}" for e in edges] + [f"> {edges[-1]:.3g}"] if len(edges) else
                  ["all"])
        reference = np.asarray(profile["shares"], dtype="float64")
    else:
        shares: Mapping[str, float] = profile.get("shares", {})
        labels = list(shares)[:_BARS]
        counts = category_text(values).dropna().value_counts(normalize=True)
        reference = np.asarray([shares[k] for k in labels])
        recent = np.asarray([float(counts.get(k, 0.0)) for k in labels])
    x = np.arange(len(labels))
    axes.bar(x - 0.2, reference, width=0.4, label="reference", color="#94a3b8")
    axes.bar(x + 0.2, recent, width=0.4, label="latest window", color="#2563eb")
    axes.set_xticks(x, [str(label)[:14] for label in labels], rotation=60, fontsize=7,
                    ha="right")
    axes.set_ylabel("share of rows", fontsize=8)
    axes.legend(fontsize=7)
    return as_png(figure)


def _performance(result: Monitoring) -> str:
    figure, axes = new_figure(f"{result.metric} over time", size=_WIDE, right_in=1.8)
    values = [p.value for p in result.performance]
    axes.plot(range(1, len(values) + 1), values, marker=".", label="labelled predictions")
    test = result.test_metrics.get(result.metric or "")
    if test is not None:
        axes.axhline(test, color="#16a34a", linestyle="--", linewidth=1, label="test split")
    _windows_axis(axes)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return as_png(figure)
