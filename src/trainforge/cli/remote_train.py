"""`trainforge train DATA --target T --server URL`: the same training, run by a server's workers.

Uploads DATA, submits a train job with the flags given, prints its log as it comes, then the
result as local training does (the registered model, the test metrics). Ctrl-C cancels the job.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console

from trainforge.client import ServerClient
from trainforge.errors import ConfigError, JobFailed

POLL_S = 0.5  # how often the log is polled: lines show up within half a second


def train_remotely(url: str, *, token: str | None, data: str, settings: dict[str, Any],
                   console: Console | None = None) -> dict[str, Any]:
    """Upload ``data``, train on it with ``settings`` (the `POST /api/v1/jobs` train fields),
    follow the job to its end; returns the finished job. JobFailed unless it succeeded."""
    console = console or Console(highlight=False, soft_wrap=True)
    path = Path(data)
    if not path.is_file():
        raise ConfigError(f"{data} is not a file; with --server, DATA is a file to upload "
                          "(folders and --sql run only locally)")
    with ServerClient(url, token=token) as client:
        dataset = client.upload("/api/v1/datasets", path)
        console.print(f"uploaded {path.name} as dataset {dataset['id']}")
        job = run_job(client, {"kind": "train", "dataset": dataset["id"], **settings},
                      console=console)
    _summary(job, console)
    return job


def run_job(client: ServerClient, body: dict[str, Any], *, console: Console) -> dict[str, Any]:
    """Submit a job, print its log until it ends, return it; Ctrl-C cancels it on the
    server. JobFailed unless it succeeded."""
    job = client.post("/api/v1/jobs", json=body)
    console.print(f"job {job['id']} queued on {client.url}")
    try:
        job = follow(client, job["id"], console=console)
    except KeyboardInterrupt:
        client.post(f"/api/v1/jobs/{job['id']}/cancel")
        console.print(f"cancelled job {job['id']} on the server")
        raise
    if job["status"] != "succeeded":
        raise JobFailed(job["id"], job["status"], job["error"])
    return job


def follow(client: ServerClient, job_id: str, *, console: Console,
           poll_s: float = POLL_S) -> dict[str, Any]:
    """Print the job's log lines as they come until it ends; returns the finished job."""
    after = 0
    while True:
        page = client.get(f"/api/v1/jobs/{job_id}/logs", after=after)
        for line in page["lines"]:
            console.print(f"[dim]{line['at'][11:19]}[/]  {line['text']}")
        after = page["next_after"]
        if page["done"] and not page["lines"]:  # ended, and every line is printed
            return dict(client.get(f"/api/v1/jobs/{job_id}"))
        if not page["lines"]:
            time.sleep(poll_s)


def _summary(job: dict[str, Any], console: Console) -> None:
    from trainforge.cli.render import metrics_table

    result = job["result"] or {}
    console.print(metrics_table(result.get("metrics", {}), title="Test metrics (held-out split)"))
    console.print(f"[bold green]Registered[/] {result.get('model')} on the server (run "
                  f"{result.get('run_id')}, job {job['id']})")
