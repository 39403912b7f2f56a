"""Monitoring one deployment: its logged predictions, window by window, against the reference
its model's package carries, and its metric over time where labels have arrived.

What ``trainforge monitor``, ``trainforge.monitor``, ``GET /api/v1/deployments/{name}/
monitoring``, the web page and the Prometheus gauges all call.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from trainforge.errors import ConfigError, DeploymentNotFound, ModelNotFound, PackageCorrupt
from trainforge.monitoring.drift import Window, WindowDrift, compare_window, split_windows
from trainforge.monitoring.feedback import labelled_predictions
from trainforge.monitoring.performance import MetricPoint, performance_over_time
from trainforge.monitoring.prediction_log import LogPolicy, read_predictions
from trainforge.monitoring.reference import REFERENCE_FILE
from trainforge.registry.registry import Registry
from trainforge.store.deployments import list_deployments
from trainforge.store.handle import StoreHandle

NO_REFERENCE = "no reference: retrain to get one (packages before 0.x carry none)"


@dataclass(frozen=True)
class Monitoring:
    """A deployment's drift per window (oldest first) and, given labels, its metric over time
    beside the package's test metrics. ``latest_rows``: the last window's logged rows, for the
    plots (not in ``to_dict``)."""

    deployment: str
    model: str | None  # NAME:VERSION whose reference the rows were compared with
    window: str
    n_rows: int
    windows: tuple[WindowDrift, ...]
    note: str | None  # why drift could not be measured (no reference, nothing logged)
    metric: str | None
    test_metrics: dict[str, float]
    performance: tuple[MetricPoint, ...]
    reference: dict[str, Any] | None = field(default=None, repr=False)
    latest_rows: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    @property
    def latest(self) -> WindowDrift | None:
        return self.windows[-1] if self.windows else None

    def to_dict(self) -> dict[str, Any]:
        latest = self.latest
        shown: dict[str, Any] = _finite({
            "deployment": self.deployment, "model": self.model, "window": self.window,
            "n_rows": self.n_rows, "note": self.note, "metric": self.metric,
            "test_metrics": self.test_metrics,
            "drifted_features": latest.drifted_features if latest else [],
            "windows": [w.to_dict() for w in self.windows],
            "performance": [asdict(p) for p in self.performance]})
        return shown


def _finite(value: Any) -> Any:
    """NaN and infinity (a window a metric cannot score) as None: JSON has neither."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def monitor_deployment(name: str, *, store: StoreHandle, registry: Registry, log_root: Path,
                       window: Window, since: datetime | None = None,
                       until: datetime | None = None,
                       labelled: pd.DataFrame | None = None) -> Monitoring:
    """Monitor deployment ``name`` (its URL name), from what its servers logged.

    A name no deployment has, and under which nothing was logged (``trainforge serve`` logs
    under the model's name), is DeploymentNotFound. ``labelled``: logged rows with a
    ``label`` column, scored per window beside the test metrics; by default the feedback
    labels sent for this deployment's logged predictions (``trainforge feedback``).
    """
    records = {r["name"]: r for r in list_deployments(store)}
    record = records.get(name)
    try:
        rows = read_predictions(log_root, name, since=since, until=until)
    except ValueError:  # no deployment can have that name, nor a log folder
        raise DeploymentNotFound(name, sorted(records)) from None
    if record is None and len(rows) == 0:
        raise DeploymentNotFound(name, sorted(records))
    if labelled is None:
        labelled = labelled_predictions(store, log_root, name, since=since, until=until)
    ref = (f"{rows['model'].iloc[-1]}:{int(rows['version'].iloc[-1])}" if len(rows) else
           f"{record['model_name']}:{record['model_version']}" if record is not None else None)
    hashed = (LogPolicy.from_dict(record["log_policy"]).hashed
              if record is not None and record["log_policy"] else ())
    reference, manifest, note = _package_parts(registry, ref)
    parts = split_windows(rows, window)
    windows = (tuple(compare_window(part, reference, hashed=hashed) for part in parts)
               if reference is not None else ())
    if not len(rows):
        note = note or "nothing logged yet: send the deployment some traffic"
    task = manifest.get("task", {}) if manifest else {}
    metric = task.get("metric")
    test_metrics = {k: v for k, v in (manifest or {}).get("metrics", {}).get("test", {}).items()
                    if isinstance(v, (int, float))}
    performance: tuple[MetricPoint, ...] = ()
    if labelled is not None and len(labelled) and manifest is not None and metric:
        from trainforge.data.task import Task, TaskKind

        performance = tuple(performance_over_time(
            labelled, task=Task(target=str(task.get("target")), kind=TaskKind(task["kind"]),
                                metric=metric, classes=tuple(task.get("classes", ()))),
            metric=metric, window=window))
    return Monitoring(deployment=name, model=ref, window=str(window), n_rows=len(rows),
                      windows=windows, note=note, metric=metric, test_metrics=test_metrics,
                      performance=performance, reference=reference,
                      latest_rows=parts[-1] if parts else None)


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """``--since``: a span back from now (``7d``, ``6h``, ``30m``) or an ISO date or time
    (UTC when it names no zone)."""
    span = Window.parse(text).span if text.strip()[-1:] in ("d", "h", "m") else None
    if span is not None:
        return (now or datetime.now(UTC)) - span
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError("since is neither a span back from now (7d, 6h, 30m) nor an ISO "
                          "date or time (2026-01-31, 2026-01-31T12:00); check --since") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _package_parts(registry: Registry, ref: str | None
                   ) -> tuple[dict[str, Any] | None, dict[str, Any] | None, str | None]:
    """The version's reference and manifest, or why there is no reference."""
    if ref is None:
        return None, None, "nothing deployed or logged"
    try:
        manifest = registry.show(ref)
        raw = registry.package_file(ref, REFERENCE_FILE)
    except ModelNotFound:
        return None, None, f"model {ref} is no longer in the registry: drift is not measured"
    if raw is None:
        return None, manifest, f"{ref} has {NO_REFERENCE}"
    try:
        reference = json.loads(raw)
    except ValueError:
        raise PackageCorrupt(REFERENCE_FILE, f"of {ref} is not JSON") from None
    return reference, manifest, None
