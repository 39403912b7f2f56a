"""`trainforge predict|evaluate … --server URL`: using a server's registered model, run by its
workers on an uploaded table.

Both upload INPUT, submit a job (``predict`` or ``evaluate``), print its log as it comes, then
do what the local command does: write the predictions to OUTPUT (downloaded through a temp
file), or print the metrics. Ctrl-C cancels the job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from trainforge.cli.remote_train import run_job
from trainforge.client import ServerClient
from trainforge.errors import ConfigError


def _upload(client: ServerClient, data: Path, console: Console) -> str:
    if not data.is_file():
        raise ConfigError(f"{data} is not a file; with --server, INPUT is a file to upload "
                          "(image folders predict only locally)")
    dataset = client.upload("/api/v1/datasets", data)
    console.print(f"uploaded {data.name} as dataset {dataset['id']}")
    return str(dataset["id"])


def predict_remotely(url: str, *, token: str | None, model: str, data: Path, output: Path,
                     console: Console, explain_top_k: int | None = None) -> dict[str, Any]:
    """Predict every row of ``data`` with the server's ``model`` into ``output``; with
    ``explain_top_k``, each row's top contributions too (as ``trainforge predict --explain``)."""
    with ServerClient(url, token=token) as client:
        dataset = _upload(client, data, console)
        job = run_job(client, {"kind": "predict", "model": model, "dataset": dataset,
                               "explain_top_k": explain_top_k}, console=console)
        client.download(f"/api/v1/jobs/{job['id']}/output", output)
    result = job["result"] or {}
    console.print(f"wrote {result.get('rows', 0):,} predictions of {result.get('model')} to "
                  f"{output} (job {job['id']})")
    return job


def evaluate_remotely(url: str, *, token: str | None, model: str, data: Path,
                      console: Console) -> dict[str, Any]:
    """Score the server's ``model`` on the labelled table ``data``; returns the metrics."""
    with ServerClient(url, token=token) as client:
        dataset = _upload(client, data, console)
        job = run_job(client, {"kind": "evaluate", "model": model, "dataset": dataset},
                      console=console)
    return dict((job["result"] or {}).get("metrics", {}))
