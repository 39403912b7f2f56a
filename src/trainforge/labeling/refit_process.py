"""The process that refits labeling projects' quick models, away from the server: a fit at
100,000 texts takes seconds of CPU, and in a thread of the server it held the interpreter
while the labeling page waited for it (``benchmarks/labeling/NOTES-labeling.md``).

    python -m trainforge.labeling.refit_process      # started by ``QuickModels``

It talks JSON lines (never pickles) over its standard input and output:

- in: first ``{"database_url": URL}``, then ``{"project": NAME}`` each time a project's
  labels change;
- out: ``{"project_id": ID, "fitted": null | {"ranked": [...], "n_labels": N,
  "words": {...} | null}}`` after each refit (null: fewer than two classes labelled yet, or
  the fit failed and the reason is logged).

Its own standard output is pointed at standard error at start, so a library that prints
cannot garble the answers. It records each refit's cross-validated score in the store
itself, and exits when its input closes (the server stopped, or died).
"""

from __future__ import annotations

import logging
import math
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass
from typing import IO, Any

import orjson
import pandas as pd
import sqlalchemy as sa

from trainforge.errors import TrainforgeError
from trainforge.labeling import active
from trainforge.labeling.consensus import consensus
from trainforge.labeling.review_items import item_of
from trainforge.labeling.sources import items_frame
from trainforge.store import labeling as store
from trainforge.store.engine import create_store_engine
from trainforge.store.handle import StoreHandle
from trainforge.store.labeling import ProjectRecord

log = logging.getLogger(__name__)
QUEUE_SIZE = 200  # items ranked per fit: several annotators' worth until the next refit
# a project's next refit starts at least this long after its last one ended: an annotator
# gives a label every 1-3 s, so a pause of 2 s takes in a burst of labels in one fit, and on
# a small machine the fits (~1-3 s each at 100,000 texts) leave the cores to the server for
# at least as long as they take them, however fast labels arrive
REFIT_PAUSE_S = 2.0


@dataclass(frozen=True)
class _Store:
    """The store's engine, opened by this process (connections are never shared)."""

    engine: sa.Engine


def refit(ws: StoreHandle, project: ProjectRecord, items: pd.DataFrame, *,
          seed: int = 0) -> dict[str, Any] | None:
    """Fit ``project``'s quick model on its labels now, record its cross-validated score,
    and return what the server needs of it: the open items ranked (positions, most useful
    first), the number of labels, and for text the words' weights; None while fewer than
    two classes are labelled."""
    chosen = consensus(store.current_labels(ws, project["id"]))
    if len(set(chosen.values())) < 2:
        return None
    labels = pd.Series(chosen, dtype=object).reindex(items.index)
    model = active.fit_quick_model(items, labels, modality=project["modality"], seed=seed)
    ranked = active.next_items(model, items, labels, size=QUEUE_SIZE)
    score = active.cv_score(items, labels, modality=project["modality"])
    if score is not None:
        store.record_score(ws, project["id"], n_labels=len(chosen), score=score)
    words = active.word_weights(model)
    return {"ranked": [int(p) for p in ranked], "n_labels": len(chosen),
            "words": None if words is None else words.to_dict()}


class _Refitter:
    """Refits each project asked for, at most once every ``REFIT_PAUSE_S`` after the last."""

    def __init__(self, ws: StoreHandle, answers: IO[bytes]) -> None:
        self.ws, self.answers = ws, answers
        self.due: dict[str, float] = {}  # project → when its refit may start
        self.ended: dict[str, float] = {}  # project → when its last refit ended
        self.items: dict[int, pd.DataFrame] = {}  # a project's items never change

    def asked(self, name: str) -> None:
        self.due.setdefault(name, self.ended.get(name, -math.inf) + REFIT_PAUSE_S)

    def wait_s(self) -> float | None:
        """Seconds until the next refit is due; None when none is asked for."""
        if not self.due:
            return None
        return max(0.0, min(self.due.values()) - time.monotonic())

    def refit_due(self) -> None:
        name = min(self.due, key=self.due.__getitem__)
        del self.due[name]
        found, project_id = None, None
        try:
            project = store.get_project(self.ws, name)
            project_id = project["id"]
            found = refit(self.ws, project, self._items_of(project))
        except (TrainforgeError, ValueError) as error:  # e.g. an image gone since
            log.warning("quick model of project %s not refitted: %s", name, error)
        self.ended[name] = time.monotonic()
        if project_id is None:
            return
        self.answers.write(orjson.dumps({"project_id": project_id, "fitted": found}) + b"\n")
        self.answers.flush()

    def _items_of(self, project: ProjectRecord) -> pd.DataFrame:
        if project["id"] not in self.items:
            # a review's suggested label is what the annotator judges, never a feature
            self.items[project["id"]] = items_frame(
                [(p, item_of(payload)) for p, payload in store.all_items(self.ws, project["id"])])
        return self.items[project["id"]]


def _read_requests(requests: IO[bytes], into: queue.Queue[str | None]) -> None:
    for line in requests:
        into.put(str(orjson.loads(line)["project"]))
    into.put(None)  # the server closed its end


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """Refit as asked on ``requests`` and answer on ``answers`` until ``requests`` closes."""
    hello = requests.readline()
    if not hello:
        return
    refitter = _Refitter(_Store(create_store_engine(orjson.loads(hello)["database_url"])),
                         answers)
    asked: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_read_requests, args=(requests, asked), daemon=True).start()
    while True:
        try:
            name = asked.get(timeout=refitter.wait_s())
        except queue.Empty:
            refitter.refit_due()
            continue
        if name is None:
            return
        refitter.asked(name)


def main() -> None:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a library's print goes to stderr
    logging.basicConfig(level=logging.WARNING, format="refit process: %(message)s")
    serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
