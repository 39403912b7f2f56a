"""`trainforge token …`: API tokens for `trainforge server`, in the local workspace's store
(run it on the server's machine, as the user whose workspace the server uses)."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="Create, list and revoke API tokens for `trainforge server`.",
                  no_args_is_help=True)


@app.command("create")
def create(
    role: Annotated[str, typer.Option(help="viewer (reads), editor (also uploads, trains, "
                                           "promotes, deploys) or admin (also tokens, deletes)")],
    name: Annotated[str, typer.Option(help="who or what will use it")] = "",
) -> None:
    """Create a token and print it: the only time it is shown."""
    from trainforge.store import access
    from trainforge.workspace import Workspace

    token, record = access.create_token(Workspace(), name=name or f"{role} token",
                                        role=access.check_role(role), created_by="cli")
    typer.echo(token)
    typer.echo(f"token {record['id']} ({record['role']}, {record['name']!r}): copy it now, it "
               "will not be shown again", err=True)


@app.command("list")
def list_tokens() -> None:
    """Every token with its role and when it was created, last used and revoked."""
    from rich.console import Console
    from rich.table import Table

    from trainforge.store import access
    from trainforge.workspace import Workspace

    tokens = access.list_tokens(Workspace())
    console = Console()
    if not tokens:
        console.print("no tokens yet: `trainforge token create --role editor`")
        return
    table = Table()
    for column in ("id", "name", "role", "created", "last used", "revoked"):
        table.add_column(column)
    for token in tokens:
        table.add_row(token["id"], token["name"], token["role"],
                      *(str(token.get(k) or "–")[:19] for k in ("created_at", "last_used_at",
                                                                 "revoked_at")))
    console.print(table)


@app.command("revoke")
def revoke(token_id: Annotated[str, typer.Argument(metavar="ID", help="from `trainforge token "
                                                                      "list`")]) -> None:
    """Revoke a token; a running server refuses it within seconds."""
    from trainforge.server.auth import TOKEN_CACHE_S
    from trainforge.store import access
    from trainforge.workspace import Workspace

    record = access.revoke_token(Workspace(), token_id)
    typer.echo(f"revoked token {record['id']} ({record['name']!r}); a running server stops "
               f"accepting it within {TOKEN_CACHE_S:.0f} s")
