"""Learning without labels, end to end: a table in; its segments or its anomalies described,
reported and registered as a model that predicts them for new rows.

Every door (SDK, CLI, REST) builds a ``ClusterConfig`` or ``AnomalyConfig`` and calls
``run_clustering`` or ``run_anomalies``. Both read the table as ``trainforge train`` does,
record it and the run in the store, and register a package whose model answers ``predict``
(the segment; 1 for an anomaly) and, for anomalies, ``anomaly_score``.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainforge.config import AnomalyConfig, ClusterConfig
from trainforge.errors import ColumnNotFound
from trainforge.workspace import Workspace


@dataclass
class SegmentsOutcome:
    """What ``run_clustering`` produced; ``result.labels`` is each table row's segment."""

    config: ClusterConfig
    result: Any  # ClusteringResult
    described: Any  # SegmentReport: each segment in words, and the 2-D plot
    version: Any  # the registered ModelVersion
    run_id: str
    report_path: Path
    notes: list[str]
    elapsed_s: float


@dataclass
class AnomaliesOutcome:
    """What ``run_anomalies`` produced; ``result.scores`` is each table row's score."""

    config: AnomalyConfig
    result: Any  # AnomalyResult
    described: Any  # AnomalyReport: the top anomalies with their drivers, and the 2-D plot
    version: Any
    run_id: str
    report_path: Path
    notes: list[str]
    elapsed_s: float


def _notify(observers: Sequence[object], text: str) -> None:
    for observer in observers:
        on_phase = getattr(observer, "on_phase", None)
        if on_phase is not None:
            on_phase(text)


def _features(config: ClusterConfig | AnomalyConfig, dataset: Any) -> list[str]:
    """The columns the user chose (``features``), else every column but ``exclude``."""
    columns = [str(c) for c in dataset.columns]
    for name in [*(config.features or ()), *config.exclude]:
        if name not in columns:
            role = "--features" if config.features and name in config.features else "--exclude"
            raise ColumnNotFound(name, dataset.source, columns, role)
    chosen = list(config.features) if config.features else columns
    return [c for c in chosen if c not in set(config.exclude)]


def _default_name(data: str, sql: str | None, suffix: str) -> str:
    stem = "sql" if sql else Path(data).resolve().name.split(".")[0]
    return (re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-") or "table") + suffix


def _run(config: ClusterConfig | AnomalyConfig, *, workspace: Workspace,
         observers: Sequence[object], kind: str,
         work: Callable[[Any, list[str], str, list[str]], tuple[Any, Any, dict[str, Any]]]
         ) -> tuple[Any, Any, Any, str, list[str]]:
    """Read, record the run, do ``work`` (fit, describe, register), close the run."""
    from trainforge.data.profile import profile as profile_data
    from trainforge.data.read import read_table
    from trainforge.store.datasets import record_dataset
    from trainforge.store.runs import finish_run, peak_memory_mb, start_run

    cpu_start = time.process_time()
    notes: list[str] = []
    dataset = read_table(config.data, sql=config.sql, notes=notes)
    features = _features(config, dataset)
    dataset_id = record_dataset(workspace, dataset, profile_data(dataset).to_dict())
    run_id = start_run(workspace, kind=kind, config=config.model_dump(mode="json"),
                       dataset_id=dataset_id)
    try:
        result, described, registered = work(dataset, features, run_id, notes)
    except BaseException as error:
        finish_run(workspace, run_id, status="failed", metrics={},
                   error=str(error) or repr(error), peak_memory_mb=peak_memory_mb(),
                   cpu_s=time.process_time() - cpu_start)
        raise
    version = registered["version"]
    finish_run(workspace, run_id, status="succeeded", metrics=registered["metrics"],
               peak_memory_mb=peak_memory_mb(), cpu_s=time.process_time() - cpu_start,
               model=(version.name, version.version))
    return result, described, version, run_id, notes


def run_clustering(config: ClusterConfig, *, workspace: Workspace,
                   observers: Sequence[object] = ()) -> SegmentsOutcome:
    """Segment the table's rows (method and k chosen on the data unless given), describe each
    segment, write the report and register the model."""
    from trainforge.evaluation.segments import describe_clustering
    from trainforge.evaluation.unsupervised_report import write_segments_report
    from trainforge.training.unsupervised import cluster, cluster_metrics, describe_choice

    started = time.time()
    name = config.name or _default_name(config.data, config.sql, "-segments")

    def work(dataset: Any, features: list[str], run_id: str, notes: list[str]
             ) -> tuple[Any, Any, dict[str, Any]]:
        _notify(observers, f"comparing clustering methods on {len(dataset.frame):,} rows")
        result = cluster(dataset.frame, features=features, schema=dataset.schema,
                         time_budget_s=config.time_budget_s, seed=config.seed,
                         method=config.method, k=config.k, source=dataset.source)
        _log_candidates(workspace, run_id, result)
        _notify(observers, "describing the segments")
        described = describe_clustering(result, dataset.frame)
        metrics = cluster_metrics(result)
        lineage = _lineage(config, dataset, run_id, result.features)
        version = _register(workspace, observers, name=name, result=result, metrics=metrics,
                            lineage=lineage, write_report=lambda path: write_segments_report(
                                path, title=name, result=result, described=described,
                                source=dataset.source, n_rows=len(dataset.frame),
                                metrics=metrics, candidates=describe_choice(result),
                                notes=[*notes, *result.notes], lineage=lineage))
        return result, described, {"version": version, "metrics": metrics}

    result, described, version, run_id, notes = _run(
        config, workspace=workspace, observers=observers, kind="cluster", work=work)
    return SegmentsOutcome(config=config, result=result, described=described, version=version,
                           run_id=run_id, report_path=version.path / "report.html",
                           notes=[*notes, *result.notes], elapsed_s=time.time() - started)


def run_anomalies(config: AnomalyConfig, *, workspace: Workspace,
                  observers: Sequence[object] = ()) -> AnomaliesOutcome:
    """Score every row, describe the top anomalies, write the report and register the
    detector."""
    from trainforge.evaluation.segments import describe_anomaly_result
    from trainforge.evaluation.unsupervised_report import write_anomalies_report
    from trainforge.training.unsupervised import anomaly_metrics, find_anomalies

    started = time.time()
    name = config.name or _default_name(config.data, config.sql, "-anomalies")

    def work(dataset: Any, features: list[str], run_id: str, notes: list[str]
             ) -> tuple[Any, Any, dict[str, Any]]:
        _notify(observers, f"scoring {len(dataset.frame):,} rows")
        result = find_anomalies(dataset.frame, features=features, schema=dataset.schema,
                                seed=config.seed, method=config.method,
                                contamination=config.contamination, source=dataset.source)
        _notify(observers, "describing the top anomalies")
        described = describe_anomaly_result(result, dataset.frame, top=config.top)
        metrics = anomaly_metrics(result)
        lineage = _lineage(config, dataset, run_id, result.features)
        version = _register(workspace, observers, name=name, result=result, metrics=metrics,
                            lineage=lineage, write_report=lambda path: write_anomalies_report(
                                path, title=name, result=result, described=described,
                                source=dataset.source, n_rows=len(dataset.frame),
                                metrics=metrics, notes=[*notes, *result.notes],
                                lineage=lineage))
        return result, described, {"version": version, "metrics": metrics}

    result, described, version, run_id, notes = _run(
        config, workspace=workspace, observers=observers, kind="anomalies", work=work)
    return AnomaliesOutcome(config=config, result=result, described=described, version=version,
                            run_id=run_id, report_path=version.path / "report.html",
                            notes=[*notes, *result.notes], elapsed_s=time.time() - started)


def _register(workspace: Workspace, observers: Sequence[object], *, name: str, result: Any,
              metrics: dict[str, Any], lineage: dict[str, Any],
              write_report: Callable[[Path], Path]) -> Any:
    """Write the report into a scratch folder, then register the model with it inside."""
    from trainforge.algorithms.unsupervised_results import as_table_model

    with tempfile.TemporaryDirectory(prefix="trainforge-report-") as scratch:
        report = write_report(Path(scratch) / "report.html")
        _notify(observers, "registering the model package")
        return workspace.registry.register(as_table_model(result), name=name, metrics=metrics,
                                           lineage=lineage, extra_files={"report.html": report})


def _lineage(config: ClusterConfig | AnomalyConfig, dataset: Any, run_id: str,
             features: Sequence[str]) -> dict[str, Any]:
    return {"dataset_fingerprint": dataset.fingerprint, "dataset_source": dataset.source,
            "run_id": run_id, "seed": config.seed, "config": config.model_dump(mode="json"),
            "n_rows": len(dataset.frame), "features": list(features)}


def _log_candidates(workspace: Workspace, run_id: str, result: Any) -> None:
    """Each candidate's silhouette in the run's metric series, by its number of clusters."""
    from trainforge.store.runs import log_metric

    for candidate in result.candidates:
        if candidate.silhouette == candidate.silhouette:  # NaN: one group, nothing to compare
            log_metric(workspace, run_id, f"{candidate.method}.silhouette",
                       candidate.silhouette, step=candidate.n_clusters)

