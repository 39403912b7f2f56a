"""`trainforge data …` and `trainforge algorithms …`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Look at data before training.", no_args_is_help=True)
algorithms_app = typer.Typer(help="The algorithm catalog.", no_args_is_help=True)


@app.command("profile")
def profile(
    data: Annotated[str, typer.Argument(help="a table file, or a database URL with --sql")],
    target: Annotated[str | None, typer.Option("--target", "-t")] = None,
    sql: Annotated[str | None, typer.Option(help="SQL query; DATA is then a SQLAlchemy URL")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="also save the profile as JSON")] = None,
) -> None:
    """Per-column kinds, missing values, outliers, class balance, columns that leak the target
    and columns holding personal data (shown masked)."""
    from rich.console import Console

    import trainforge

    result = trainforge.profile(data, target=target, sql=sql)
    console = Console()
    console.print(result.table())
    for warning in result.warnings:
        console.print(f"[yellow]•[/] {warning}", highlight=False)
    if json_out is not None:
        result.save_json(json_out)
        console.print(f"saved {json_out}")


@algorithms_app.command("list")
def list_algorithms() -> None:
    """Every algorithm, the tasks it learns and what it is good for."""
    from rich.console import Console
    from rich.table import Table

    from trainforge.algorithms import catalog

    table = Table()
    for column in ("name", "family", "tasks", "reads", "summary"):
        table.add_column(column)
    for algorithm in catalog.all_algorithms():
        table.add_row(algorithm.name, algorithm.family,
                      ", ".join(sorted(k.value for k in algorithm.kinds)),
                      ", ".join(sorted(algorithm.modalities)), algorithm.summary)
    Console().print(table)
