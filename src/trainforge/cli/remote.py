"""``--server URL`` and ``--token``: the options that point a command at a trainforge server
instead of the local workspace. The command fetches the same records either way and renders
them with one renderer, so a remote listing reads exactly like a local one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from trainforge.client import ServerClient

ServerOption = Annotated[str | None, typer.Option(
    "--server", metavar="URL", show_default=False,
    help="a trainforge server to ask instead of the local workspace (or $TRAINFORGE_SERVER)")]
TokenOption = Annotated[str | None, typer.Option(
    "--token", show_default=False, help="API token for --server (or $TRAINFORGE_TOKEN)")]


def connect(server: str | None, token: str | None) -> ServerClient | None:
    """A client of ``--server`` (or ``$TRAINFORGE_SERVER``); None to work locally."""
    from trainforge.client import ServerClient, server_url

    url = server_url(server)
    return None if url is None else ServerClient(url, token=token)


def timestamp(value: object) -> str:
    """A stored time as the listings show it (``2026-11-29 15:19:07``), whether it came as a
    datetime from the store or as ISO text from a server."""
    return "–" if value is None else str(value).replace("T", " ")[:19]
