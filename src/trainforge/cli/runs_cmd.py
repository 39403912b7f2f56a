"""`trainforge runs …`: what each training attempt did, from the store (or a server's)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trainforge.cli.remote import ServerOption, TokenOption, connect, timestamp

if TYPE_CHECKING:
    from trainforge.config import CostRate

app = typer.Typer(help="Training runs: status, timings, memory, metrics.", no_args_is_help=True)


@app.command("list")
def list_runs(limit: Annotated[int, typer.Option(help="how many, newest first")] = 20,
              server: ServerOption = None, token: TokenOption = None) -> None:
    """The most recent runs with their status, time, CPU-seconds, peak memory and the model
    they made; with their cost when a rate is set ($TRAINFORGE_COST_PER_CPU_HOUR here, the
    server's --cost-per-cpu-hour with --server)."""
    from trainforge.config import CostRate
    from trainforge.store import list_runs as recent_runs
    from trainforge.workspace import Workspace

    remote = connect(server, token)
    if remote is not None:
        with remote:
            render_runs(remote.get("/api/v1/runs", limit=limit)["runs"])
    else:
        rate = CostRate.from_env(os.environ)
        render_runs([priced(run, rate) for run in recent_runs(Workspace(), limit=limit)])


def priced(run: Mapping[str, Any], rate: CostRate | None) -> dict[str, Any]:
    """``run`` with its cost and currency (None without a rate), as a server answers it: the
    metric series, if any, stays last."""
    shown = {key: value for key, value in run.items() if key != "series"}
    shown["cost"] = None if rate is None else rate.cost(run["cpu_s"])
    shown["currency"] = None if rate is None else rate.currency
    return shown | ({"series": run["series"]} if "series" in run else {})


def render_runs(runs: Sequence[Mapping[str, Any]]) -> None:
    """The runs as a table; a cost column when they carry a currency (a rate was set)."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not runs:
        console.print("no runs yet: train with `trainforge train DATA --target COLUMN`")
        return
    currency = next((run["currency"] for run in runs if run.get("currency")), None)
    table = Table()
    for column in ("id", "kind", "status", "started", "seconds", "CPU-s", "peak MB", "model",
                   *([f"cost ({currency})"] if currency else [])):
        table.add_column(column)
    for run in runs:
        model = f"{run['model_name']}:{run['model_version']}" if run.get("model_name") else "–"
        cost = [_amount(run.get("cost"))] if currency else []
        table.add_row(run["id"][:12], run["kind"], run["status"], timestamp(run["started_at"]),
                      _figure(run.get("duration_s"), ".1f"), _figure(run.get("cpu_s"), ".1f"),
                      _figure(run.get("peak_memory_mb"), ".0f"), model, *cost)
    console.print(table)


def _figure(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def _amount(cost: float | None) -> str:
    """Money to the cent, or to four significant digits below one (a minute of CPU)."""
    if cost is None:
        return "–"
    return f"{cost:.2f}" if cost >= 1 else f"{cost:.4g}"


@app.command("show")
def show(run_id: Annotated[str, typer.Argument(help="a run id (the first characters do)")],
         server: ServerOption = None, token: TokenOption = None) -> None:
    """Everything recorded about a run, as JSON: config, metrics, their series, timings,
    resources and cost."""
    from pydantic_core import to_jsonable_python

    from trainforge.config import CostRate
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
        run = priced(get_run(workspace, resolve_run_id(workspace, run_id)),
                     CostRate.from_env(os.environ))
    # the JSON a server answers with: a local and a remote run print alike
    typer.echo(json.dumps(to_jsonable_python(run), indent=2))
