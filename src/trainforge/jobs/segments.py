"""Learning without labels, end to end: a table in; its segments or its anomalies described,
reported and registered as a model that predicts them for new rows.

Every door (SDK, CLI, REST) builds a ``ClusterConfig`` or ``AnomalyConfig`` and calls
``run_clustering`` or ``run_anomalies``. Both read the table as ``trainforge train`` does,
record it and the run in the store, and register a package whose model answers ``predict``
(the segment; 1 for an anomaly) and, for anomalies, ``anomaly_score``.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from numpy.typing import ArrayLike

from trainforge.config import AnomalyConfig, ClusterConfig
from trainforge.errors import ColumnNotFound
from trainforge.jobs.lifecycle import run_lifecycle
from trainforge.jobs.observers import notify
from trainforge.json_value import JSONValue
from trainforge.workspace import Workspace

if TYPE_CHECKING:
    from trainforge.algorithms.unsupervised_results import AnomalyResult, ClusteringResult
    from trainforge.data.dataset import Dataset
    from trainforge.evaluation.segments import AnomalyReport, SegmentReport
    from trainforge.registry.records import ModelVersion


@dataclass
class SegmentsOutcome:
    """What ``run_clustering`` produced; ``result.labels`` is each table row's segment."""

    config: ClusterConfig
    result: ClusteringResult
    described: SegmentReport  # each segment in words, and the 2-D plot
    # every method and number of clusters compared: method, k, criterion, score, silhouette,
    # fit_s, detail, chosen
    candidates: list[dict[str, JSONValue]]
    version: ModelVersion
    run_id: str
    report_path: Path
    notes: list[str]
    elapsed_s: float


@dataclass
class AnomaliesOutcome:
    """What ``run_anomalies`` produced; ``result.scores`` is each table row's score."""

    config: AnomalyConfig
    result: AnomalyResult
    described: AnomalyReport  # the top anomalies with their drivers, and the 2-D plot
    version: ModelVersion
    run_id: str
    report_path: Path
    notes: list[str]
    elapsed_s: float


@dataclass(frozen=True)
class _Table:
    """The table a job learns from, as read and recorded before its run starts."""

    dataset: Dataset
    features: list[str]
    notes: list[str]  # what reading it assumed or dropped
    dataset_id: int


def _read(config: ClusterConfig | AnomalyConfig, workspace: Workspace) -> _Table:
    from trainforge.data.profile import profile as profile_data
    from trainforge.data.read import read_table
    from trainforge.store.datasets import record_dataset

    notes: list[str] = []
    dataset = read_table(config.data, sql=config.sql, notes=notes)
    features = _features(config, dataset)
    dataset_id = record_dataset(workspace, dataset, profile_data(dataset).to_dict())
    return _Table(dataset=dataset, features=features, notes=notes, dataset_id=dataset_id)


def _features(config: ClusterConfig | AnomalyConfig, dataset: Dataset) -> list[str]:
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


def run_clustering(config: ClusterConfig, *, workspace: Workspace,
                   observers: Sequence[object] = ()) -> SegmentsOutcome:
    """Segment the table's rows (method and k chosen on the data unless given), describe each
    segment, write the report and register the model."""
    from trainforge.evaluation.segments import describe_clustering
    from trainforge.evaluation.unsupervised_report import write_segments_report
    from trainforge.training.unsupervised import cluster, cluster_metrics, describe_choice

    started, cpu_start = time.time(), time.process_time()
    name = config.name or _default_name(config.data, config.sql, "-segments")
    table = _read(config, workspace)
    dataset = table.dataset
    with run_lifecycle(workspace, kind="cluster", config=config, dataset_id=table.dataset_id,
                       observers=observers, cpu_start=cpu_start) as run:
        notify(observers, "on_phase",
               f"comparing clustering methods on {len(dataset.frame):,} rows")
        result = cluster(dataset.frame, features=table.features, schema=dataset.schema,
                         time_budget_s=config.time_budget_s, seed=config.seed,
                         method=config.method, k=config.k, source=dataset.source)
        _log_candidates(workspace, run.id, result)
        notify(observers, "on_phase", "describing the segments")
        described = describe_clustering(result, dataset.frame)
        metrics = cluster_metrics(result)
        candidates: list[dict[str, JSONValue]] = describe_choice(result)
        lineage = _lineage(config, dataset, run.id, result.features)
        version = _register(workspace, observers, name=name, result=result, metrics=metrics,
                            lineage=lineage, write_report=lambda path: write_segments_report(
                                path, title=name, result=result, described=described,
                                source=dataset.source, n_rows=len(dataset.frame),
                                metrics=metrics, candidates=candidates,
                                notes=[*table.notes, *result.notes], lineage=lineage))
        run.succeeded(version, metrics=metrics)
    return SegmentsOutcome(config=config, result=result, described=described,
                           candidates=candidates, version=version, run_id=run.id, report_path=version.path / "report.html",
                           notes=[*table.notes, *result.notes],
                           elapsed_s=time.time() - started)


def run_anomalies(config: AnomalyConfig, *, workspace: Workspace,
                  observers: Sequence[object] = ()) -> AnomaliesOutcome:
    """Score every row, describe the top anomalies, write the report and register the
    detector."""
    from trainforge.evaluation.segments import describe_anomaly_result
    from trainforge.evaluation.unsupervised_report import write_anomalies_report
    from trainforge.training.unsupervised import anomaly_metrics, find_anomalies

    started, cpu_start = time.time(), time.process_time()
    name = config.name or _default_name(config.data, config.sql, "-anomalies")
    table = _read(config, workspace)
    dataset = table.dataset
    with run_lifecycle(workspace, kind="anomalies", config=config,
                       dataset_id=table.dataset_id, observers=observers,
                       cpu_start=cpu_start) as run:
        notify(observers, "on_phase", f"scoring {len(dataset.frame):,} rows")
        result = find_anomalies(dataset.frame, features=table.features, schema=dataset.schema,
                                seed=config.seed, method=config.method,
                                contamination=config.contamination, source=dataset.source)
        notify(observers, "on_phase", "describing the top anomalies")
        described = describe_anomaly_result(result, dataset.frame, top=config.top)
        metrics = anomaly_metrics(result)
        lineage = _lineage(config, dataset, run.id, result.features)
        version = _register(workspace, observers, name=name, result=result, metrics=metrics,
                            lineage=lineage, write_report=lambda path: write_anomalies_report(
                                path, title=name, result=result, described=described,
                                source=dataset.source, n_rows=len(dataset.frame),
                                metrics=metrics, notes=[*table.notes, *result.notes],
                                lineage=lineage))
        run.succeeded(version, metrics=metrics)
    return AnomaliesOutcome(config=config, result=result, described=described, version=version,
                            run_id=run.id, report_path=version.path / "report.html",
                            notes=[*table.notes, *result.notes],
                            elapsed_s=time.time() - started)


def _register(workspace: Workspace, observers: Sequence[object], *, name: str,
              result: ClusteringResult | AnomalyResult, metrics: dict[str, float],
              lineage: dict[str, JSONValue], write_report: Callable[[Path], Path]
              ) -> ModelVersion:
    """Write the report into a scratch folder, then register the model with it inside."""
    from trainforge.algorithms.unsupervised_results import as_table_model

    with tempfile.TemporaryDirectory(prefix="trainforge-report-") as scratch:
        report = write_report(Path(scratch) / "report.html")
        notify(observers, "on_phase", "registering the model package")
        return workspace.registry.register(as_table_model(result), name=name, metrics=metrics,
                                           lineage=lineage, extra_files={"report.html": report})


def _lineage(config: ClusterConfig | AnomalyConfig, dataset: Dataset, run_id: str,
             features: Sequence[str]) -> dict[str, JSONValue]:
    return {"dataset_fingerprint": dataset.fingerprint, "dataset_source": dataset.source,
            "run_id": run_id, "seed": config.seed, "config": config.model_dump(mode="json"),
            "n_rows": len(dataset.frame), "features": list(features)}


def _log_candidates(workspace: Workspace, run_id: str, result: ClusteringResult) -> None:
    """Each candidate's silhouette in the run's metric series, by its number of clusters."""
    from trainforge.store.runs import log_metric

    for candidate in result.candidates:
        if candidate.silhouette == candidate.silhouette:  # NaN: one group, nothing to compare
            log_metric(workspace, run_id, f"{candidate.method}.silhouette",
                       candidate.silhouette, step=candidate.n_clusters)



def write_rows_with(config: ClusterConfig | AnomalyConfig, output: Path,
                    columns: Mapping[str, ArrayLike]) -> int:
    """The job's input table with ``columns`` added (one value per row, in order), written to
    ``output`` (Parquet by its suffix, else CSV); returns the rows written.

    The file appears whole or not at all: it is written beside ``output``, then renamed.
    """
    from trainforge.data.read import read_table

    frame = read_table(config.data, sql=config.sql).frame.copy()
    for name, values in columns.items():
        frame[name] = values
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial")
    if output.suffix.lower() == ".parquet":
        frame.to_parquet(partial, index=False)
    else:
        frame.to_csv(partial, index=False)
    os.replace(partial, output)
    return len(frame)
