"""`trainforge server`: the platform — REST API, web UI, job workers — on one port."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from trainforge.workspace import Workspace


def server(
    host: Annotated[str, typer.Option(help="address to bind; 0.0.0.0 exposes it to the "
                                           "network")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
    workers: Annotated[int, typer.Option(help="jobs that may run at once (one process "
                                              "each)")] = 2,
    max_upload_mb: Annotated[float, typer.Option(
        "--max-upload-mb", help="uploads over this size are refused mid-stream")] = 500.0,
    heartbeat_s: Annotated[float, typer.Option(
        "--heartbeat-s", hidden=True, help="how often a worker reports it is alive")] = 5.0,
    stale_after_s: Annotated[float, typer.Option(
        "--stale-after-s", hidden=True, help="silence after which a job is requeued")] = 30.0,
) -> None:
    """Serve the platform: the API under /api/v1 (docs at /docs), the web UI, and job workers.

    On its first start it creates the admin user and an admin API token and prints both once.
    Ctrl-C stops the server; running jobs go back to the queue and resume at the next start.
    """
    import uvicorn
    from rich.console import Console

    from trainforge.config import ServerConfig
    from trainforge.server.app import create_server_app
    from trainforge.server.supervisor import Supervisor
    from trainforge.workspace import Workspace

    settings = ServerConfig(host=host, port=port, workers=workers, max_upload_mb=max_upload_mb,
                            heartbeat_s=heartbeat_s, stale_after_s=stale_after_s)
    workspace = Workspace()
    console = Console(soft_wrap=True, highlight=False)
    _first_start(workspace, console)
    supervisor = Supervisor(workspace, workers=settings.workers,
                            heartbeat_s=settings.heartbeat_s,
                            stale_after_s=settings.stale_after_s)
    supervisor.start()
    console.print(f"trainforge server on http://{settings.host}:{settings.port} (API docs at "
                  f"/docs), {settings.workers} worker{'s' if settings.workers > 1 else ''}, "
                  f"workspace {workspace.home}; Ctrl-C stops")
    try:
        uvicorn.run(create_server_app(workspace, settings, supervisor=supervisor),
                    host=settings.host,
                    port=settings.port, log_level="warning")
    finally:
        console.print("stopping the workers (running jobs go back to the queue)…")
        supervisor.stop()


def _first_start(workspace: Workspace, console: Console) -> None:
    """Create the first admin and an admin token, and print them: this once, never again."""
    from trainforge.store import access

    first = access.ensure_first_admin(workspace)
    if first is None:
        return
    username, password = first
    token, _ = access.create_token(workspace, name="first-admin", role="admin",
                                   created_by=username)
    console.print("[bold]First start: an admin was created. These are shown only now; keep "
                  "them.[/]")
    console.print(f"  web UI login:  {username} / {password}")
    console.print(f"  admin token:   {token}")
    console.print("  (more tokens: `trainforge token create --role editor`)")
