"""`trainforge runs …`: what each training attempt did, from the store (or a server's)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import typer

from trainforge.cli.remote import ServerOption, TokenOption, connect, timestamp

app = typer.Typer(help="Training runs: status, timings, memory, metrics.", no_args_is_help=True)


@app.command("list")
def list_runs(limit: Annotated[int, typer.Option(help="how many, newest first")] = 20,
              server: ServerOption = None, token: TokenOption = None) -> None:
    """The most recent runs with their status, time, peak memory and the model they made."""
    from trainforge.store import list_runs as recent_runs
    from trainforge.workspace import Workspace

    remote = connect(server, token)
    if remote is not None:
        with remote:
            render_runs(remote.get("/api/v1/runs", limit=limit)["runs"])
    else:
        render_runs(recent_runs(Workspace(), limit=limit))


def render_runs(runs: Sequence[Mapping[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

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
        table.add_row(run["id"][:12], run["kind"], run["status"], timestamp(run["started_at"]),
                      f"{seconds:.1f}" if seconds is not None else "–",
                      f"{run['peak_memory_mb']:.0f}" if run.get("peak_memory_mb") else "–", model)
    console.print(table)


@app.command("show")
def show(run_id: Annotated[str, typer.Argument(help="a run id (the first characters do)")],
         server: ServerOption = None, token: TokenOption = None) -> None:
    """Everything recorded about a run, as JSON: config, metrics, their series, timings."""
    from pydantic_core import to_jsonable_python

    from trainforge.store import get_run
    from trainforge.store.runs import resolve_run_id
    from trainforge.workspace import Workspace

    remote = connect(server, token)
    if remote is not None:
        with remote:
            run = remote.get(f"/api/v1/runs/{run_id}")
            run["series"] = remote.get(f"/api/v1/runs/{run['id']}/metrics")
    else:
        workspace = Workspace()
        run = get_run(workspace, resolve_run_id(workspace, run_id))
    # the JSON a server answers with: a local and a remote run print alike
    typer.echo(json.dumps(to_jsonable_python(run), indent=2))
