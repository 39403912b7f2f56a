"""The report's fairness plot: the selection rate of each group, as bars (matplotlib, so
imported only when a report with sensitive features is drawn)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trainforge.evaluation.plots import as_png, new_figure

_MAX_BARS = 40  # groups drawn at most: the table lists them all


def selection_rate_plot(groups: Sequence[Mapping[str, Any]]) -> str | None:
    """A base64 PNG of each group's selection rate (or error, for a regressor), one bar per
    group of each sensitive feature; None when no group has the figure."""
    key = "selection_rate" if any(g.get("selection_rate") is not None for g in groups) \
        else "error"
    shown = [g for g in groups if g.get(key) is not None][:_MAX_BARS]
    if not shown:
        return None
    title = "Selection rate per group" if key == "selection_rate" else \
        "Mean absolute error per group"
    labels = [f"{g['feature']}={g['group']}" for g in shown]
    height = max(2.5, 0.6 + 0.22 * len(shown))
    width_in = min(2.6, 0.5 + 0.06 * max(len(label) for label in labels))
    figure, axes = new_figure(title, size=(4.8 + width_in / 2, height), left_in=width_in)
    positions = list(range(len(shown)))
    axes.barh(positions, [float(g[key]) for g in shown], color="#2563eb")
    axes.set_yticks(positions, labels)
    axes.invert_yaxis()  # the table's order, top to bottom
    axes.set_xlabel(key.replace("_", " "), fontsize=8)
    return as_png(figure)
