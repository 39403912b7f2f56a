"""Drift gauges for Prometheus: each deployment's latest window, recomputed by a background
thread every ``REFRESH_EVERY_S`` (never per scrape: a scrape only reads the last figures).

    trainforge_feature_drift{deployment="churn",feature="age",test="psi"} 0.031
    trainforge_drifted_features{deployment="churn"} 0
"""

from __future__ import annotations

import logging
import math
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from trainforge.monitoring.drift import Window
from trainforge.monitoring.monitor import monitor_deployment
from trainforge.registry.registry import Registry
from trainforge.store.deployments import list_deployments
from trainforge.store.handle import StoreHandle

log = logging.getLogger(__name__)

REFRESH_EVERY_S = 60.0
WINDOW = Window(n_rows=1_000)  # the gauges show the last 1,000 rows of the last day
LOOK_BACK = timedelta(days=1)


class DriftGauges:
    """The gauges' latest values, refreshed by ``start()``'s thread or by ``refresh()``."""

    def __init__(self, *, store: StoreHandle, registry: Registry, log_root: Path,
                 every_s: float = REFRESH_EVERY_S) -> None:
        self.store, self.registry, self.log_root = store, registry, log_root
        self.every_s = every_s
        self._lines: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> None:
        """Recompute every deployment's gauges from its latest window."""
        since = datetime.now(UTC) - LOOK_BACK
        drift, drifted, scored = [], [], []
        for record in list_deployments(self.store):
            name = record["name"]
            try:
                measured = monitor_deployment(name, store=self.store, registry=self.registry,
                                              log_root=self.log_root, window=WINDOW,
                                              since=since)
            except Exception:  # one broken deployment must not hide the others
                log.exception("drift of deployment %s could not be measured", name)
                continue
            label = _escape(name)
            point = measured.performance[-1] if measured.performance else None
            if point is not None and math.isfinite(point.value):
                scored.append(f'trainforge_model_metric{{deployment="{label}",'
                              f'metric="{_escape(point.metric)}"}} {point.value:.6g}')
            latest = measured.latest
            if latest is None:
                continue
            drifted.append(f'trainforge_drifted_features{{deployment="{label}"}} '
                           f"{len(latest.drifted_features)}")
            for column in latest.features:
                drift += [f'trainforge_feature_drift{{deployment="{label}",'
                          f'feature="{_escape(column.name)}",test="{t.test}"}} {t.statistic:.6g}'
                          for t in column.tests]
        self._lines = [  # replaced whole: a scrape reads one refresh or the next, never half
            ("# HELP trainforge_feature_drift A feature's drift statistic in the "
             "deployment's latest window (psi, ks, chi2 or js)."),
            "# TYPE trainforge_feature_drift gauge", *drift,
            "# HELP trainforge_drifted_features Features drifted in the latest window.",
            "# TYPE trainforge_drifted_features gauge", *drifted,
            ("# HELP trainforge_model_metric The model's metric on the labelled feedback of "
             "its latest window of labelled predictions."),
            "# TYPE trainforge_model_metric gauge", *scored]

    def lines(self) -> list[str]:
        return self._lines

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="trainforge-drift-gauges",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception:  # the store away for a moment: try again next time
                log.exception("drift gauges could not be refreshed")
            self._stop.wait(self.every_s)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
