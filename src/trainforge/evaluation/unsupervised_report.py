"""The report of a clustering or an anomaly run: one self-contained HTML page.

It shows what was found (each segment in words, or the top anomalies with what drives them),
the 2-D picture, the candidates compared, and the model with its lineage; the page is written
as ``write_report`` writes the supervised one (inline CSS and PNG, no scripts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trainforge.algorithms.unsupervised_results import (
    AnomalyResult,
    ClusteringResult,
    as_table_model,
)
from trainforge.evaluation.report import render_page
from trainforge.evaluation.segments import AnomalyReport, SegmentReport


def _model_info(result: ClusteringResult | AnomalyResult,
                lineage: Mapping[str, Any]) -> dict[str, Any]:
    member = as_table_model(result).members[0]
    return {"method": result.method, "params": dict(member.params),
            "features used": ", ".join(result.features), "lineage": dict(lineage)}


def write_segments_report(path: Path, *, title: str, result: ClusteringResult,
                          described: SegmentReport, source: str, n_rows: int,
                          metrics: Mapping[str, float], candidates: Sequence[Mapping[str, Any]],
                          notes: Sequence[str], lineage: Mapping[str, Any]) -> Path:
    """The clustering report at ``path``: segments in words, their plot, every candidate."""
    return render_page(
        path, "unsupervised.html.j2", title=title, task=as_table_model(result).task,
        source=source, n_rows=n_rows, features=list(result.features), metrics=dict(metrics),
        notes=list(notes), segments=list(described.segments), anomalies=None,
        plot=described.plot_png, candidates=[dict(c) for c in candidates],
        model_info=_model_info(result, lineage))


def write_anomalies_report(path: Path, *, title: str, result: AnomalyResult,
                           described: AnomalyReport, source: str, n_rows: int,
                           metrics: Mapping[str, float], notes: Sequence[str],
                           lineage: Mapping[str, Any]) -> Path:
    """The anomaly report at ``path``: the top anomalies with their drivers, and the plot."""
    rows = [{"row": a.position, "score": round(a.score, 4), "why": a.summary.split(": ", 1)[-1]}
            for a in described.anomalies]
    return render_page(
        path, "unsupervised.html.j2", title=title, task=as_table_model(result).task,
        source=source, n_rows=n_rows, features=list(result.features), metrics=dict(metrics),
        notes=list(notes), segments=None, anomalies=rows, plot=described.plot_png,
        candidates=[], model_info=_model_info(result, lineage))
