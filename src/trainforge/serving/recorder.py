"""What the prediction routes hand their answered requests to: a recorder, as a ``Protocol``.

Serving sits left of monitoring in the layers, so it never imports the prediction log; the log
(``monitoring.prediction_log.PredictionLog``) fits this shape, and so does anything a test or
an embedding application passes instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

REQUEST_ID_HEADER = b"x-request-id"


def new_request_id() -> str:
    """A request id: 32 hex characters, random (no clock or host in it)."""
    return os.urandom(16).hex()


class RecorderStats(Protocol):
    """What a recorder has done since it started: rows written, and rows dropped by reason."""

    written_rows: int
    dropped_rows: dict[str, int]


class PredictionRecorder(Protocol):
    """Records answered predictions off the request path. ``record`` is called after the
    answer was sent and must be cheap; the app calls ``start`` and ``close`` with its own
    start-up and shutdown (``close`` writes what is still queued)."""

    @property
    def stats(self) -> RecorderStats: ...

    def record(self, *, deployment: str, model: str, version: int, request_id: str,
               inputs: Mapping[str, Sequence[Any]], outputs: Mapping[str, Sequence[Any]],
               n_rows: int, latency_s: float) -> None: ...

    def start(self) -> object: ...

    def close(self) -> None: ...
