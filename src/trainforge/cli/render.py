"""Rendering shared by the commands: leaderboards, metrics, manifests."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from rich.table import Table

_BOARD = (("number", "trial"), ("algorithm", "algorithm"), ("score", "score"), ("fit_time_s", "fit s"),
          ("predict_time_s", "predict s/1k rows"), ("peak_memory_mb", "peak MB"), ("status", "status"))


def as_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, Mapping):
        return dict(item)
    if hasattr(item, "to_dict"):
        return dict(item.to_dict())
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return dataclasses.asdict(item)
    return dict(vars(item))


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def candidate_rows(leaderboard: Sequence[Any]) -> list[dict[str, str]]:
    rows = []
    for candidate in leaderboard:
        raw = as_dict(candidate)
        row = {label: _cell(raw.get(key)) for key, label in _BOARD}
        note = raw.get("note")
        if note:
            row["status"] = f"{row['status']} ({note})"
        rows.append(row)
    return rows


def metrics_table(evaluation: Any, *, title: str) -> Table:
    metrics: Mapping[str, Any] = getattr(evaluation, "metrics", evaluation)
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        if isinstance(value, (int, float)):
            table.add_row(key, _cell(float(value)))
    return table
