"""The quick model of each labeling project, refitted in a background thread as labels
arrive: the labeling page reads the latest order and never waits for a fit.

One ``QuickModels`` per server process. ``labels_changed`` only marks the project and wakes
the thread; the thread refits each marked project once, however many labels came meanwhile,
so a burst of labels costs one fit, not one per label.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import pandas as pd

from trainforge.errors import TrainforgeError
from trainforge.labeling import active
from trainforge.labeling.consensus import consensus
from trainforge.labeling.sources import items_frame
from trainforge.store import labeling as store
from trainforge.store.handle import StoreHandle
from trainforge.store.labeling import ProjectRecord

log = logging.getLogger(__name__)
QUEUE_SIZE = 200  # items ranked per fit: several annotators' worth until the next refit


@dataclass(frozen=True)
class Fitted:
    """A project's quick model, the order it gives, and how many labels it was fitted on."""

    model: active.QuickModel
    ranked: list[int]  # positions, most useful first
    n_labels: int


def refit(ws: StoreHandle, project: ProjectRecord, items: pd.DataFrame, *,
          seed: int = 0) -> Fitted | None:
    """Fit ``project``'s quick model on its labels now, rank its open items and record the
    cross-validated score; None while fewer than two classes are labelled."""
    chosen = consensus(store.current_labels(ws, project["id"]))
    if len(set(chosen.values())) < 2:
        return None
    labels = pd.Series(chosen, dtype=object).reindex(items.index)
    model = active.fit_quick_model(items, labels, modality=project["modality"], seed=seed)
    ranked = active.next_items(model, items, labels, size=QUEUE_SIZE)
    score = active.cv_score(items, labels, modality=project["modality"])
    if score is not None:
        store.record_score(ws, project["id"], n_labels=len(chosen), score=score)
    return Fitted(model=model, ranked=[int(p) for p in ranked], n_labels=len(chosen))


class QuickModels:
    """The latest ``Fitted`` of each project, kept fresh by one thread."""

    def __init__(self, ws: StoreHandle) -> None:
        self.ws = ws
        self._lock = threading.Condition()
        self._pending: dict[int, ProjectRecord] = {}
        self._fitted: dict[int, Fitted] = {}
        self._items: dict[int, pd.DataFrame] = {}  # a project's items never change
        self._fits = 0
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="quick-models", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def labels_changed(self, project: ProjectRecord) -> None:
        """Refit ``project`` soon (returns at once)."""
        with self._lock:
            self._pending[project["id"]] = project
            self._lock.notify_all()

    def latest(self, project_id: int) -> Fitted | None:
        with self._lock:
            return self._fitted.get(project_id)

    @property
    def fits(self) -> int:
        """How many fits finished (a test or benchmark waits on it)."""
        with self._lock:
            return self._fits

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._stopping:
                    self._lock.wait()
                if self._stopping:
                    return
                project_id, project = self._pending.popitem()
            try:
                fitted = refit(self.ws, project, self._items_of(project))
            except (TrainforgeError, ValueError) as error:  # e.g. an image gone since
                log.warning("quick model of project %s not refitted: %s", project["name"], error)
                fitted = None
            with self._lock:
                if fitted is not None:
                    self._fitted[project_id] = fitted
                self._fits += 1
                self._lock.notify_all()

    def _items_of(self, project: ProjectRecord) -> pd.DataFrame:
        if project["id"] not in self._items:
            self._items[project["id"]] = items_frame(store.all_items(self.ws, project["id"]))
        return self._items[project["id"]]
