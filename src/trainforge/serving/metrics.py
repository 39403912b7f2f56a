"""Serving metrics in Prometheus' text exposition format (no client library needed).

Counts requests by model, route and status, the predictions served, and a latency histogram
per model. Recording is a few dict updates, cheap enough for the per-request hot path.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from typing import NamedTuple

from trainforge.serving.recorder import RecorderStats
from trainforge.serving.shadow import ShadowStats

# seconds; dense below 10 ms, where a healthy tabular endpoint answers
LATENCY_BUCKETS_S: tuple[float, ...] = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1,
                                        0.25, 0.5, 1.0, 2.5, 5.0)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _format_float(value: float) -> str:
    return "+Inf" if value == float("inf") else repr(float(value))


class _Histogram:
    __slots__ = ("counts", "sum_s", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS_S) + 1)
        self.sum_s = 0.0
        self.total = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS_S, seconds)] += 1
        self.sum_s += seconds
        self.total += 1


class ServedTotals(NamedTuple):
    """One served ref's counts: what its deployment's usage is made of."""

    requests: int
    predictions: int
    cpu_s: float


class ServingMetrics:
    """What ``GET /metrics`` reports, for every model the app serves."""

    def __init__(self) -> None:
        self._requests: defaultdict[tuple[str, str, int], int] = defaultdict(int)
        self._predictions: defaultdict[str, int] = defaultdict(int)
        self._latency: defaultdict[str, _Histogram] = defaultdict(_Histogram)
        self._cpu_s: defaultdict[str, float] = defaultdict(float)

    def record(self, model: str, route: str, status: int, seconds: float,
               *, n_predictions: int = 0, cpu_s: float = 0.0) -> None:
        """One finished request; ``model`` is the served ref (``name:version``) or ``""``;
        ``cpu_s``: the CPU time its validation and prediction took (what serving it costs)."""
        self._requests[(model, route, status)] += 1
        self._latency[model].observe(seconds)
        if n_predictions:
            self._predictions[model] += n_predictions
        if cpu_s:
            self._cpu_s[model] += cpu_s

    def cpu_seconds(self) -> dict[str, float]:
        """CPU-seconds spent answering, per served ref, since the app started."""
        return dict(self._cpu_s)

    def totals(self) -> dict[str, ServedTotals]:
        """Requests answered (any status), rows predicted and CPU-seconds, per served ref
        since the app started: what a deployment's usage is made of. Safe to call from
        another thread: each counter is copied whole (one C call under the GIL) first."""
        requests, predictions, cpu_s = dict(self._requests), dict(self._predictions), \
            dict(self._cpu_s)
        answered: defaultdict[str, int] = defaultdict(int)
        for (model, _, _), count in requests.items():
            answered[model] += count
        return {model: ServedTotals(count, predictions.get(model, 0), cpu_s.get(model, 0.0))
                for model, count in answered.items()}

    def render(self, *, log: RecorderStats | None = None,
               shadows: ShadowStats | None = None) -> str:
        """The text exposition format, version 0.0.4; with ``log``, the prediction log's
        rows written and dropped (by reason) too; with ``shadows``, the rows each
        deployment's shadow predicted, and dropped (by reason)."""
        lines = ["# HELP trainforge_requests_total Prediction requests answered, by status.",
                 "# TYPE trainforge_requests_total counter"]
        for (model, route, status), count in sorted(self._requests.items()):
            lines.append(f'trainforge_requests_total{{model="{_escape(model)}",'
                         f'route="{_escape(route)}",status="{status}"}} {count}')
        lines += ["# HELP trainforge_predictions_total Rows predicted.",
                  "# TYPE trainforge_predictions_total counter"]
        for model, count in sorted(self._predictions.items()):
            lines.append(f'trainforge_predictions_total{{model="{_escape(model)}"}} {count}')
        lines += ["# HELP trainforge_cpu_seconds_total CPU time spent validating and predicting.",
                  "# TYPE trainforge_cpu_seconds_total counter"]
        for model, seconds in sorted(self._cpu_s.items()):
            lines.append(f'trainforge_cpu_seconds_total{{model="{_escape(model)}"}} '
                         f"{_format_float(seconds)}")
        lines += ["# HELP trainforge_request_duration_seconds Time from request to response.",
                  "# TYPE trainforge_request_duration_seconds histogram"]
        for model, histogram in sorted(self._latency.items()):
            label = f'model="{_escape(model)}"'
            cumulative = 0
            for bound, count in zip((*LATENCY_BUCKETS_S, float("inf")), histogram.counts,
                                    strict=True):
                cumulative += count
                lines.append(f'trainforge_request_duration_seconds_bucket{{{label},'
                             f'le="{_format_float(bound)}"}} {cumulative}')
            lines.append(f"trainforge_request_duration_seconds_sum{{{label}}} "
                         f"{_format_float(histogram.sum_s)}")
            lines.append(f"trainforge_request_duration_seconds_count{{{label}}} "
                         f"{histogram.total}")
        if log is not None:
            lines += _log_lines(log)
        if shadows is not None:
            lines += _shadow_lines(shadows)
        return "\n".join(lines) + "\n"


def _log_lines(log: RecorderStats) -> list[str]:
    lines = ["# HELP trainforge_prediction_log_rows_total Rows the prediction log wrote, or "
             + "dropped and why.",
             "# TYPE trainforge_prediction_log_rows_total counter",
             f'trainforge_prediction_log_rows_total{{outcome="written"}} {log.written_rows}']
    # a copy: the log's writer thread may add a reason meanwhile
    for reason, count in sorted(dict(log.dropped_rows).items()):
        lines.append(f'trainforge_prediction_log_rows_total{{outcome="dropped",'
                     f'reason="{_escape(reason)}"}} {count}')
    return lines


def _shadow_lines(shadows: ShadowStats) -> list[str]:
    lines = ["# HELP trainforge_shadow_rows_total Rows each deployment's shadow predicted, or "
             + "dropped and why.",
             "# TYPE trainforge_shadow_rows_total counter"]
    # copies: the shadows' worker thread may add a deployment meanwhile
    for deployment, count in sorted(dict(shadows.predicted).items()):
        lines.append(f'trainforge_shadow_rows_total{{deployment="{_escape(deployment)}",'
                     f'outcome="predicted"}} {count}')
    for (deployment, reason), count in sorted(dict(shadows.dropped).items()):
        lines.append(f'trainforge_shadow_rows_total{{deployment="{_escape(deployment)}",'
                     f'outcome="dropped",reason="{_escape(reason)}"}} {count}')
    return lines
