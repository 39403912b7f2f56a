"""`trainforge feedback NAME FILE`: send the true outcomes of a deployment's logged
predictions, from a table, to the local workspace or a server (`--server`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trainforge.cli.remote import ServerOption, TokenOption, connect

if TYPE_CHECKING:
    from rich.console import Console


def feedback(
    name: Annotated[str, typer.Argument(help="the deployment's name (its URL name)")],
    file: Annotated[Path, typer.Argument(help="table of labels: CSV, Parquet, JSON…")],
    id_column: Annotated[str, typer.Option(
        help="column of request ids (as answered in X-Request-Id; a `row` column may give "
             "the record's position in its request), or an input the deployment logs, "
             "matched by value")] = "request_id",
    label_column: Annotated[str, typer.Option(help="column of true outcomes")] = "label",
    replace: Annotated[bool, typer.Option(
        help="replace labels already recorded (the old ones are kept, marked)")] = False,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Record the labels in FILE for deployment NAME's logged predictions.

    Each row gets one outcome (recorded, unchanged, conflict, unknown_request, ambiguous,
    wrong_type; late ones are flagged); at most 10,000 rows a call, checked whole first.
    """
    from rich.console import Console

    from trainforge.data.read import read_table
    from trainforge.monitoring.feedback_doors import frame_records

    records = frame_records(read_table(file).frame)
    client = connect(server, token)
    if client is not None:
        keep = {id_column: id_column, "row": "row", label_column: "label"}
        body = {"id_column": id_column, "replace": replace,
                "records": [{keep[k]: v for k, v in r.items() if k in keep} for r in records]}
        with client:
            outcome = client.post(f"/v1/models/{name}/feedback", json=body)
    else:
        import trainforge

        outcome = trainforge.feedback(name, records, id_column=id_column,
                                      label_column=label_column, replace=replace).to_dict()
    _show(outcome, Console(highlight=False))


def _show(outcome: dict[str, Any], console: Console) -> None:
    counts = ", ".join(f"{n:,} {what}" for what, n in outcome["counts"].items() if n)
    console.print(f"{counts or 'no labels'}" + (f" ({outcome['late']:,} late)"
                                                if outcome["late"] else ""))
    for record in outcome["records"][:20]:
        if record["outcome"] != "recorded":
            console.print(f"  row {record['position']}: {record['outcome']}")
    for hint in outcome["hints"]:
        console.print(f"[dim]{hint}[/]")
