"""What serving cost, written to the store: each server process's requests, predictions and
CPU-seconds per deployment per day, with the process's peak memory.

A ``UsageFlusher`` thread reads the process's ``ServingMetrics`` every ``FLUSH_EVERY_S`` and
at ``stop()``, and writes this process's row of each deployment it answered for today
(``store.usage``); rows of every process over one workspace add up to a deployment's usage.
Nothing here runs on a request: the request path only counts, as it did. A store error is
logged and the next flush writes the whole day again, so it loses nothing.

Counts are kept per served ref (``name:version``); the flusher credits each ref's new counts
to the deployment serving it at the flush (a ref served under two names goes to the first,
alphabetically), and to the day of the flush: traffic in the last ``FLUSH_EVERY_S`` before
midnight lands on the next day.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from trainforge.serving.metrics import ServedTotals, ServingMetrics
from trainforge.store.handle import StoreHandle
from trainforge.store.resources import peak_memory_mb, reset_peak_memory
from trainforge.store.usage import process_key, save_usage

log = logging.getLogger(__name__)

FLUSH_EVERY_S = 30.0  # a crash loses at most this much of a process's counts
_NOTHING = ServedTotals(0, 0, 0.0)


def utc_day() -> str:
    return datetime.now(UTC).date().isoformat()


class UsageFlusher:
    """Writes this process's serving usage to the store from a background thread.

    ``served``: deployment name → the ref it serves now (called from the flusher's thread).
    """

    def __init__(self, store: StoreHandle, metrics: ServingMetrics, *,
                 served: Callable[[], Mapping[str, str]], every_s: float = FLUSH_EVERY_S,
                 process: str | None = None, today: Callable[[], str] = utc_day) -> None:
        self.store, self.metrics, self.served = store, metrics, served
        self.every_s, self.today = every_s, today
        self.process = process or process_key(socket.gethostname(), os.getpid())
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._counted: dict[str, ServedTotals] = {}  # ref → its totals at the last flush
        self._owner: dict[str, str] = {}  # ref → the deployment last seen serving it
        self._day: str | None = None
        self._usage: dict[str, ServedTotals] = {}  # deployment → its counts on ``_day``
        self._peak_mb = 0.0

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="usage-flusher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, then write once more: a process that stops loses nothing."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._flush_logged()

    def flush(self) -> None:
        """Count what was served since the last flush and write today's rows; a store error
        is raised (the thread logs it), and the next flush writes the same rows again."""
        with self._flushing:
            day = self.today()
            if day != self._day:
                if self._day is not None:  # a new day: its peak starts afresh (a first
                    reset_peak_memory()  # flush keeps the process's peak: it started today)
                self._day, self._usage, self._peak_mb = day, {}, 0.0
            self._count()
            self._peak_mb = max(self._peak_mb, peak_memory_mb())
            answered = {name: used for name, used in self._usage.items() if used.requests}
            if answered:
                save_usage(self.store, day=day, process=self.process, served=answered,
                           peak_memory_mb=round(self._peak_mb, 1))

    def _count(self) -> None:
        for name, ref in sorted(self.served().items(), reverse=True):
            self._owner[ref] = name  # reversed: the first name, alphabetically, wins
        for ref, now in self.metrics.totals().items():
            owner = self._owner.get(ref)
            if owner is None:  # "" (an unknown name's 404) or a ref no deployment served
                continue
            before = self._counted.get(ref, _NOTHING)
            self._counted[ref] = now
            used = self._usage.get(owner, _NOTHING)
            self._usage[owner] = ServedTotals(
                used.requests + now.requests - before.requests,
                used.predictions + now.predictions - before.predictions,
                used.cpu_s + now.cpu_s - before.cpu_s)

    def _flush_logged(self) -> None:
        try:
            self.flush()
        except Exception:  # the store busy or away: serving goes on; the next flush retries
            log.warning("writing the serving usage to the store failed; retrying in %.0f s",
                        self.every_s, exc_info=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._flush_logged()
