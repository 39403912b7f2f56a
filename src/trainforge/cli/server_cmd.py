"""`trainforge server`: the platform — REST API, web UI, job workers — on one port."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Literal

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from trainforge.config import ServerConfig
    from trainforge.server.app import JobRunners
    from trainforge.server.job_resources import ClusterTotals
    from trainforge.server.ray_backend import RayDispatcher
    from trainforge.workspace import Workspace


def server(
    host: Annotated[str, typer.Option(help="address to bind; 0.0.0.0 exposes it to the "
                                           "network")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
    workers: Annotated[int, typer.Option(help="jobs that may run at once (one process "
                                              "each; the local backend)")] = 2,
    backend: Annotated[Literal["local", "ray"], typer.Option(
        help="who runs the jobs: worker processes on this machine, or tasks on a Ray cluster "
             "(each reserving the cpus, gpus and memory_mb its job body declares)")] = "local",
    ray_address: Annotated[str | None, typer.Option(
        "--ray-address", envvar="TRAINFORGE_RAY_ADDRESS",
        help="with --backend ray: auto (the cluster `ray start --head` started on this "
             "machine), HOST:PORT or ray://HOST:PORT. Ray's nodes open the store and the "
             "artifacts themselves: with the default SQLite store they must all be this "
             "machine; a cluster over several machines needs TRAINFORGE_DATABASE_URL "
             "(Postgres) and artifacts every node reaches [default: auto]")] = None,
    max_upload_mb: Annotated[float, typer.Option(
        "--max-upload-mb", help="uploads over this size (as sent: compressed bytes) are "
                                "refused mid-stream")] = 500.0,
    max_table_mb: Annotated[float, typer.Option(
        "--max-table-mb", help="an upload that decompresses past this size (gzip, bz2, xz, zip, "
                               "Excel, Parquet) is refused as it is read")] = 500.0,
    max_table_rows: Annotated[int, typer.Option(
        "--max-table-rows", help="an uploaded table with more rows is refused as it is "
                                 "read")] = 1_000_000,
    max_records: Annotated[int, typer.Option(
        "--max-records", help="records one prediction request may hold; more is a 413 "
                              "saying to split the batch")] = 10_000,
    heartbeat_s: Annotated[float, typer.Option(
        "--heartbeat-s", hidden=True, help="how often a worker reports it is alive")] = 5.0,
    stale_after_s: Annotated[float, typer.Option(
        "--stale-after-s", hidden=True, help="silence after which a job is requeued")] = 30.0,
    cost_per_cpu_hour: Annotated[float | None, typer.Option(
        "--cost-per-cpu-hour", envvar="TRAINFORGE_COST_PER_CPU_HOUR",
        help="money per CPU-hour: jobs, runs and deployments then show their cost beside "
             "their CPU-seconds (default: no cost shown)")] = None,
    cost_currency: Annotated[str, typer.Option(
        "--cost-currency", envvar="TRAINFORGE_COST_CURRENCY",
        help="the currency of --cost-per-cpu-hour (ISO 4217: USD, EUR)")] = "USD",
    policy_check_s: Annotated[float, typer.Option(
        "--policy-check-s", help="seconds between checks of the retraining policies "
                                 "(`trainforge policy set`)")] = 60.0,
) -> None:
    """Serve the platform: the API under /api/v1 (docs at /docs), the web UI, and job workers.

    On its first start it creates the admin user and an admin API token and writes both to
    $TRAINFORGE_HOME/secrets/first-admin.txt (readable by you only), printing only its path.
    Ctrl-C stops the server; running jobs go back to the queue and resume at the next start.

    With --backend ray the jobs run as tasks on a Ray cluster (`ray start --head` first), each
    reserving the cpus/gpus/memory_mb of its job body; a job asking for more than the cluster
    has is refused (422). The nodes open the store and the artifacts themselves: with the
    default SQLite store the cluster must be on this machine; across machines set
    TRAINFORGE_DATABASE_URL to Postgres. An address that does not answer stops the start in
    seconds.
    """
    from trainforge.workspace import Workspace

    workspace = Workspace()
    # wrong credentials stop the start in a second, before the app's imports, not a job later
    if workspace.artifact_store is not None:
        workspace.artifact_store.check()

    import uvicorn
    from rich.console import Console

    from trainforge.config import ServerConfig
    from trainforge.server.app import create_server_app
    from trainforge.server.supervisor import Supervisor

    settings = ServerConfig(host=host, port=port, workers=workers, max_upload_mb=max_upload_mb,
                            max_table_mb=max_table_mb, max_table_rows=max_table_rows,
                            max_records=max_records, heartbeat_s=heartbeat_s,
                            stale_after_s=stale_after_s, cost_per_cpu_hour=cost_per_cpu_hour,
                            cost_currency=cost_currency, policy_check_s=policy_check_s,
                            backend=backend, ray_address=ray_address)
    console = Console(soft_wrap=True, highlight=False)
    runners: JobRunners
    if settings.backend == "ray":  # first: a cluster that does not answer stops the start
        runners, capacity, shown = _ray_dispatcher(workspace, settings)
    else:
        runners, capacity = Supervisor(workspace, workers=settings.workers,
                                       heartbeat_s=settings.heartbeat_s,
                                       stale_after_s=settings.stale_after_s), None
        shown = f"{settings.workers} worker{'s' if settings.workers > 1 else ''}"
    _first_start(workspace, console)
    runners.start()
    console.print(f"trainforge server on http://{settings.host}:{settings.port} (API docs at "
                  f"/docs), {shown}, workspace {workspace.home}; Ctrl-C stops")
    try:
        uvicorn.run(create_server_app(workspace, settings, supervisor=runners,
                                      capacity=capacity),
                    host=settings.host,
                    port=settings.port, log_level="warning")
    finally:
        console.print("stopping the workers (running jobs go back to the queue)…")
        runners.stop()


def _ray_dispatcher(workspace: Workspace, settings: ServerConfig
                    ) -> tuple[RayDispatcher, Callable[[], ClusterTotals], str]:
    """Join the Ray cluster (a clear error within seconds when it does not answer) and the
    dispatcher that runs the queue on it; only this imports Ray."""
    from trainforge.server.ray_backend import RayDispatcher, connect

    connect(settings.ray_address, workspace=workspace)
    dispatcher = RayDispatcher(workspace, heartbeat_s=settings.heartbeat_s,
                               stale_after_s=settings.stale_after_s)
    totals = dispatcher.totals()
    return dispatcher, dispatcher.totals, (f"jobs on the Ray cluster at "
                                           f"{settings.ray_address or 'auto'} ({totals.cpus:g} "
                                           f"CPUs, {totals.gpus:g} GPUs)")


def _first_start(workspace: Workspace, console: Console) -> None:
    """Create the first admin and an admin token, and write them to a file only the
    workspace's owner may read, printing its path: never the secrets themselves, which would
    end up in service logs (journald, docker logs) that others read and keep."""
    from trainforge.store import access
    from trainforge.store.clock import utc_now

    first = access.ensure_first_admin(workspace)
    if first is None:
        return
    username, password = first
    token, _ = access.create_token(workspace, name="first-admin", role="admin",
                                   created_by=username)
    path = workspace.write_secret("first-admin.txt", (
        f"# trainforge server, first start {utc_now():%Y-%m-%d %H:%M} UTC: the admin's web UI\n"
        "# login and an admin API token. Keep them somewhere safe, then delete this file.\n"
        f"web UI login: {username}\npassword: {password}\nadmin token: {token}\n"))
    console.print("[bold]First start: an admin user and an admin API token were created.[/]")
    console.print(f"  they are in {path} (readable by you only): keep them, then delete it")
    console.print("  (more: `trainforge user create NAME --role editor`, "
                  "`trainforge token create --role editor`)")
