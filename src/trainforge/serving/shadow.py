"""Shadow predictions: a challenger answers a copy of the champion's traffic, off the request
path, and its answers are only logged.

The predict route hands each request it answered (the checked columns and the request id) to
``Shadow.offer`` after the champion's answer was sent: one append to a bounded queue. One
worker thread per ``ShadowFeed`` predicts with the shadow and records its outputs, under the
deployment's name and the shadow's own version, so the two versions' rows share the request
id. A slow shadow fills the queue and its newest requests are dropped (counted); a failing
one is logged and counted. Neither ever delays or changes the champion's answer.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import NamedTuple

from trainforge.serving.recorder import PredictionRecorder
from trainforge.serving.served import ServedModel
from trainforge.serving.signature import Columns

log = logging.getLogger(__name__)

# requests' rows waiting for the shadow; beyond this the newest are dropped: a shadow that
# cannot keep up is compared on fewer requests rather than hold the server's memory
MAX_QUEUED_ROWS = 50_000

__all__ = ["QUEUE_FULL", "SHADOW_FAILED", "Shadow", "ShadowFeed", "ShadowStats"]


QUEUE_FULL = "queue full (the shadow is behind)"
SHADOW_FAILED = "the shadow failed"


@dataclass
class ShadowStats:
    """Rows the shadows predicted, and rows they did not predict and why, per deployment:
    what ``/metrics`` shows (``trainforge_shadow_rows_total``)."""

    predicted: dict[str, int] = field(default_factory=dict)  # deployment → rows
    dropped: dict[tuple[str, str], int] = field(default_factory=dict)  # (deployment, why) → rows

    @property
    def predicted_rows(self) -> int:
        return sum(self.predicted.values())

    @property
    def dropped_rows(self) -> int:
        """Rows dropped because the queue was full."""
        return sum(n for (_, why), n in self.dropped.items() if why == QUEUE_FULL)

    @property
    def failed_rows(self) -> int:
        """Rows the shadow raised on."""
        return sum(n for (_, why), n in self.dropped.items() if why == SHADOW_FAILED)

    def add_predicted(self, deployment: str, n_rows: int) -> None:
        self.predicted[deployment] = self.predicted.get(deployment, 0) + n_rows

    def add_dropped(self, deployment: str, why: str, n_rows: int) -> None:
        key = (deployment, why)
        self.dropped[key] = self.dropped.get(key, 0) + n_rows


class _Request(NamedTuple):
    shadow: Shadow
    columns: Columns
    request_id: str


class ShadowFeed:
    """One worker thread predicting the shadows of a process, and the recorder their
    outputs go to. The worker starts with the first request offered; ``close`` lets it
    finish what is queued and closes the recorder."""

    def __init__(self, recorder: PredictionRecorder, *,
                 max_queued_rows: int = MAX_QUEUED_ROWS) -> None:
        self.recorder, self.max_queued_rows = recorder, max_queued_rows
        self.stats = ShadowStats()
        self._queue: collections.deque[_Request] = collections.deque()
        self._queued_rows = 0
        self._ready = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None

    def offer(self, request: _Request) -> None:
        """Queue one answered request for its shadow; never blocks, never raises."""
        n_rows = request.columns.n_rows
        with self._ready:
            if self._closing:
                return
            if self._queued_rows + n_rows > self.max_queued_rows:
                self.stats.add_dropped(request.shadow.deployment, QUEUE_FULL, n_rows)
                return
            if self._thread is None:
                self.recorder.start()
                self._thread = threading.Thread(target=self._run, name="shadow-predictions",
                                                daemon=True)
                self._thread.start()
            self._queue.append(request)
            self._queued_rows += n_rows
            self._ready.notify()

    def close(self) -> None:
        """Predict what is queued, then stop the worker and close the recorder."""
        with self._ready:
            self._closing = True
            self._ready.notify()
            thread = self._thread
        if thread is not None:
            thread.join()
            self.recorder.close()
        with self._ready:  # ready to start again (a server app's lifespan may run twice)
            self._thread, self._closing = None, False

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closing:
                    self._ready.wait()
                if not self._queue:
                    return
                request = self._queue.popleft()
                self._queued_rows -= request.columns.n_rows
            self._predict(request)

    def _predict(self, request: _Request) -> None:
        shadow, columns = request.shadow, request.columns
        started = time.perf_counter()
        try:
            outputs = shadow.model.outputs(columns)
            logged = shadow.model.logged(outputs, shadow.model.predictions(outputs, columns))
        except Exception:
            log.exception("the shadow %s of deployment %r failed on a request",
                          shadow.model.ref, shadow.deployment)
            self.stats.add_dropped(shadow.deployment, SHADOW_FAILED, columns.n_rows)
            return
        # only the outputs: the inputs are in the champion's rows of the same request
        self.recorder.record(deployment=shadow.deployment, model=shadow.model.loaded.name,
                             version=shadow.model.loaded.version, request_id=request.request_id,
                             inputs={}, outputs=logged, n_rows=columns.n_rows,
                             latency_s=time.perf_counter() - started)
        self.stats.add_predicted(shadow.deployment, columns.n_rows)


@dataclass(frozen=True)
class Shadow:
    """``model`` shadowing deployment ``deployment``, fed through ``feed``."""

    deployment: str
    model: ServedModel
    feed: ShadowFeed = field(repr=False)

    def offer(self, columns: Columns, request_id: str) -> None:
        self.feed.offer(_Request(self, columns, request_id))
