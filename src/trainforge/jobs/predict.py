"""The predict job: a registered model and a file of rows in; a file of predictions out.

``trainforge predict`` and the server's predict job call ``run_prediction``; the rows stream
through ``serving.batch.predict_file`` a chunk at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trainforge.jobs.observers import notify

if TYPE_CHECKING:
    from trainforge.serving.batch import BatchResult
    from trainforge.workspace import Workspace


@dataclass(frozen=True)
class PredictionOutcome:
    """What ``run_prediction`` wrote, and with which model version."""

    model: str  # NAME:VERSION, whatever alias the user gave
    batch: BatchResult  # rows written, seconds, the output file, image files skipped


def run_prediction(ref: str, input: Path, output: Path, *, workspace: Workspace,
                   chunk_rows: int = 50_000, explain_top_k: int | None = None,
                   observers: Sequence[object] = ()) -> PredictionOutcome:
    """Predict every row of ``input`` (a table, or a folder of images) into ``output``.

    ``ref`` is NAME, NAME:VERSION or NAME@ALIAS; the package's hashes are checked on loading.
    Observers hear ``on_phase`` once the model is loaded. ``explain_top_k``: add each row's
    top contributions (``serving.explain.contribution_columns``).
    """
    from trainforge.serving.batch import predict_file

    loaded = workspace.registry.load(ref)
    notify(observers, "on_phase", f"predicting with {loaded.ref}")
    batch = predict_file(loaded, input, output, chunk_rows=chunk_rows,
                         explain_top_k=explain_top_k)
    return PredictionOutcome(model=loaded.ref, batch=batch)
