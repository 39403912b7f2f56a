"""The predict job: a registered model and a file of rows in; a file of predictions out.

``trainforge predict``, the server's predict job and the SDK's ``predict_batch`` call
``run_prediction``. On the local backend the rows stream through
``serving.batch.predict_file`` a chunk at a time; on the Ray backend (``backend="ray"``) the
input is a set of Parquet or CSV shards, local or ``s3://``, predicted by Ray Data
(``serving.batch_ray``) into shards and a manifest. Ray is imported only then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from trainforge.errors import ConfigError
from trainforge.jobs.observers import notify

if TYPE_CHECKING:
    from trainforge.serving.batch import BatchResult
    from trainforge.serving.batch_ray import ShardedResult
    from trainforge.workspace import Workspace

Backend = Literal["local", "ray"]


@dataclass(frozen=True)
class PredictionOutcome:
    """What ``run_prediction`` wrote, and with which model version."""

    model: str  # NAME:VERSION, whatever alias the user gave
    # rows written, seconds, where, unscored rows: one file (local), or shards (ray)
    batch: BatchResult | ShardedResult


def run_prediction(ref: str, input: Path | str, output: Path | str, *, workspace: Workspace,
                   chunk_rows: int = 50_000, explain_top_k: int | None = None,
                   backend: Backend = "local", ray_address: str | None = None,
                   observers: Sequence[object] = ()) -> PredictionOutcome:
    """Predict every row of ``input`` (a table, or a folder of images) into ``output``.

    ``ref`` is NAME, NAME:VERSION or NAME@ALIAS; the package's hashes are checked on loading.
    Observers hear ``on_phase`` once the model is loaded. ``explain_top_k``: add each row's
    top contributions (``serving.explain.contribution_columns``). ``backend="ray"``: ``input``
    is Parquet or CSV shards (a file, a folder, a glob; local or ``s3://``) and ``output`` a
    folder or ``s3://`` prefix that gets one shard per input shard and ``manifest.json``
    (``serving.batch_ray``); the Ray cluster is the one at ``ray_address`` (None: this
    machine's).
    """
    if backend == "ray":
        return _on_ray(ref, str(input), str(output), workspace=workspace,
                       batch_rows=chunk_rows, explain_top_k=explain_top_k,
                       ray_address=ray_address, observers=observers)
    from trainforge.serving.batch import predict_file

    loaded = workspace.registry.load(ref)
    notify(observers, "on_phase", f"predicting with {loaded.ref}")
    batch = predict_file(loaded, Path(input), Path(output), chunk_rows=chunk_rows,
                         explain_top_k=explain_top_k)
    return PredictionOutcome(model=loaded.ref, batch=batch)


def _on_ray(ref: str, input: str, output: str, *, workspace: Workspace, batch_rows: int,
            explain_top_k: int | None, ray_address: str | None,
            observers: Sequence[object]) -> PredictionOutcome:
    """The shards checked first (no Ray needed to say a shard lacks a column), then Ray
    joined and the rows predicted there."""
    from trainforge.serving.shards import plan_shards

    if explain_top_k is not None:
        raise ConfigError("--explain runs on the local backend only; leave out --backend ray")
    plan = plan_shards(workspace.registry, ref, input, output)
    # imported once the shards are known good: importing Ray alone takes seconds
    from trainforge.runtime.ray_cluster import join
    from trainforge.serving.batch_ray import predict_shards

    join(ray_address)
    notify(observers, "on_phase", f"predicting {len(plan.shards)} shards with {plan.model} "
                                  "on Ray")
    return PredictionOutcome(model=plan.model,
                             batch=predict_shards(plan, workspace.registry,
                                                  batch_rows=batch_rows))
