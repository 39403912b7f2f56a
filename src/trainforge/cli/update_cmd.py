"""`trainforge update NAME`: continue a model on its deployments' labelled feedback (the
members that can learn in place: online_linear, LightGBM); the new version is the model's
challenger. Locally, or as an ``update`` job on a server (`--server`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from trainforge.cli.remote import ServerOption, TokenOption, connect


def update(
    name: Annotated[str, typer.Argument(help="the model: NAME (its latest version), "
                                             "NAME:VERSION or NAME@ALIAS")],
    since: Annotated[datetime | None, typer.Option(
        help="learn from predictions logged after this time (UTC); default: those after "
             "the rows the version learned last")] = None,
    rounds: Annotated[int, typer.Option(
        help="boosting rounds to add to a LightGBM member")] = 1,
    method: Annotated[str, typer.Option(
        help="continue (the members that can learn more, on the new labels) or windows "
             "(refit on nested windows of the newest rows and blend: a drifting stream)")
    ] = "continue",
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Update model NAME on the labels its deployments received since it last learned."""
    from rich.console import Console

    console = Console(highlight=False)
    client = connect(server, token)
    if client is not None:
        body: dict[str, Any] = {"rounds": rounds, "method": method,
                                "since": None if since is None else since.isoformat()}
        with client:
            job = client.post(f"/api/v1/models/{name.split(':')[0].split('@')[0]}/update",
                              json=body)
        console.print(f"queued update job {job['id']}; follow it with "
                      f"`trainforge runs list` or the server's jobs page")
        return
    from trainforge.config import UpdateConfig
    from trainforge.jobs.update import run_update
    from trainforge.workspace import Workspace

    outcome = run_update(UpdateConfig(model=name, since=since, rounds=rounds,
                                      method=method),  # type: ignore[arg-type]
                         workspace=Workspace())
    version = outcome.version
    console.print(f"registered {version.name}:{version.version} (challenger) from "
                  f"{outcome.parent} on {outcome.n_rows:,} labelled rows; updated: "
                  f"{', '.join(outcome.updated)}")
    if outcome.kept:
        console.print(f"kept as they were (cannot learn in place): {', '.join(outcome.kept)}")
    if outcome.windows is not None:
        shown = ", ".join(f"{size:,} rows {weight:.0%}" for size, weight
                          in zip(outcome.windows.sizes, outcome.windows.weights) if weight)
        console.print(f"windows: {shown} ({outcome.windows.metric} "
                      f"{outcome.windows.blend_score:.4f} on the newest "
                      f"{outcome.windows.holdout_rows:,} rows, held out)")
    if outcome.before is not None and outcome.after is not None:
        console.print(f"{outcome.metric} on those rows: {outcome.before:.4f} before, "
                      f"{outcome.after:.4f} after learning them")
