"""`trainforge runs …`: what each training attempt did, from the store."""

from __future__ import annotations

import json
from typing import Annotated

import typer

app = typer.Typer(help="Training runs: status, timings, memory, metrics.", no_args_is_help=True)


@app.command("list")
def list_runs(limit: Annotated[int, typer.Option(help="how many, newest first")] = 20) -> None:
    """The most recent runs with their status, time, peak memory and the model they made."""
    from rich.console import Console
    from rich.table import Table

    from trainforge.store import list_runs as recent_runs
    from trainforge.workspace import Workspace

    runs = recent_runs(Workspace(), limit=limit)
    console = Console()
    if not runs:
        console.print("no runs yet: train with `trainforge train DATA --target COLUMN`")
        return
    table = Table()
    for column in ("id", "kind", "status", "started", "seconds", "peak MB", "model"):
        table.add_column(column)
    for run in runs:
        model = f"{run['model_name']}:{run['model_version']}" if run.get("model_name") else "–"
        seconds = run.get("duration_s")
        table.add_row(run["id"][:12], run["kind"], run["status"], str(run["started_at"])[:19],
                      f"{seconds:.1f}" if seconds is not None else "–",
                      f"{run['peak_memory_mb']:.0f}" if run.get("peak_memory_mb") else "–", model)
    console.print(table)


@app.command("show")
def show(run_id: Annotated[str, typer.Argument(help="a run id (the first characters do)")]) -> None:
    """Everything recorded about a run, as JSON: config, metrics, their series, timings."""
    from trainforge.store import get_run
    from trainforge.store import list_runs as recent_runs
    from trainforge.workspace import Workspace

    workspace = Workspace()
    matches = [r["id"] for r in recent_runs(workspace, limit=10_000) if r["id"].startswith(run_id)]
    typer.echo(json.dumps(get_run(workspace, matches[0] if len(matches) == 1 else run_id),
                          indent=2, default=str))
