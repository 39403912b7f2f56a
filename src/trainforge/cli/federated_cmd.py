"""`trainforge federated …`: create Flower's own virtualenv, simulate a federation, and run
federations the server coordinates (create, token, status, join)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from trainforge.cli.remote import ServerOption, TokenOption

app = typer.Typer(help="Federated learning on Flower: the data stays with its holders, only "
                       "model updates travel.", no_args_is_help=True)


@app.command("setup")
def setup(
    venv: Annotated[Path | None, typer.Option(
        help="where to create it (default: $TRAINFORGE_FLOWER_VENV, else flower-venv in "
             "the trainforge home)")] = None,
) -> None:
    """Create the virtualenv Flower runs from (Flower, CPU PyTorch, pandas, scikit-learn)."""
    from rich.console import Console

    from trainforge.federated.environment import create_venv, venv_path
    from trainforge.workspace import Workspace

    console = Console()
    target = venv or venv_path(Workspace().home)
    python = create_venv(target, say=lambda text: console.print(f"[dim]…[/] {text}"))
    console.print(f"Flower is ready in {target} ({python})")
    if venv is not None:
        console.print(f"set TRAINFORGE_FLOWER_VENV={target} for trainforge to use it")


@app.command("simulate")
def simulate(
    data: Annotated[str, typer.Argument(
        help="the table, or image folder (a sub-folder per class), to split between simulated "
             "holders")],
    target: Annotated[str, typer.Option(help="the column to predict")],
    clients: Annotated[int | None, typer.Option(
        help="data holders, each a client process (default: 3)")] = None,
    min_clients: Annotated[int | None, typer.Option(
        "--min-clients", help="rounds go on while this many clients are left (default: all); "
                              "a client that fails is then left out")] = None,
    partition: Annotated[str | None, typer.Option(
        help="iid, dirichlet:ALPHA (label skew; 0.1 strong, 100 nearly iid) or "
             "by-column:COLUMN (default: iid)")] = None,
    rounds: Annotated[int | None, typer.Option(help="federated rounds (default: 10)")] = None,
    strategy: Annotated[str | None, typer.Option(
        help="auto, fedavg, fedprox or fedavgm (default: auto: FedAvgM from 20 rounds "
             "on, where it helps label-skewed holders, else FedAvg; trees are bagged)")] = None,
    proximal_mu: Annotated[float | None, typer.Option(
        "--proximal-mu", help="FedProx's pull towards the global model (default: 0.1)")] = None,
    server_momentum: Annotated[float | None, typer.Option(
        "--server-momentum", help="FedAvgM's momentum on the coordinator: label-skewed holders "
                                  "converge in fewer rounds (default: 0.7)")] = None,
    local_epochs: Annotated[int | None, typer.Option(
        "--local-epochs", help="passes over its rows a client makes each round; with xgboost, "
                               "the boosting iterations it adds (default: 1)")] = None,
    learning_rate: Annotated[float | None, typer.Option(
        "--learning-rate", help="the clients' SGD step; with xgboost, its eta (default: "
                                "0.1)")] = None,
    secure_aggregation: Annotated[bool, typer.Option(
        "--secure-aggregation", help="SecAgg+: the coordinator learns only the sum of the "
                                     "updates; the report says how many may drop")] = False,
    name: Annotated[str | None, typer.Option(
        help="registry name (default: the file's stem, then -federated)")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed (default: 0)")] = None,
    model: Annotated[str | None, typer.Option(
        help="linear, mlp, xgboost or cnn (default: auto: cnn for an image folder, else "
             "linear)")] = None,
    image_size: Annotated[int | None, typer.Option(
        "--image-size", help="with cnn: pixels per side images are resized to (default: as "
                             "they are, up to 64)")] = None,
    dp_epsilon: Annotated[float | None, typer.Option(
        "--dp-epsilon", help="central differential privacy: the ε the rounds spend, per "
                             "client (clipped updates, Gaussian noise on their average)")] = None,
    dp_delta: Annotated[float | None, typer.Option(
        "--dp-delta", help="with --dp-epsilon: the δ (default: 1e-5, or 0.1/clients)")] = None,
    dp_max_grad_norm: Annotated[float | None, typer.Option(
        "--dp-max-grad-norm", help="with --dp-epsilon: the L2 norm each client's update is "
                                   "clipped to (default: 1)")] = None,
) -> None:
    """Split DATA between simulated holders and train a model as a federation of processes
    (Flower over gRPC on 127.0.0.1); evaluate it on each holder's held-out rows, compare it
    with the centralised model and register it."""
    from rich.console import Console

    from trainforge.jobs.federate import run_federated_simulation
    from trainforge.workspace import Workspace

    config = build_federated_config({
        "data": data, "target": target, "clients": clients, "min_clients": min_clients,
        "partition": partition,
        "rounds": rounds, "strategy": strategy, "proximal_mu": proximal_mu,
        "server_momentum": server_momentum,
        "local_epochs": local_epochs, "learning_rate": learning_rate, "name": name,
        "seed": seed, "model": model, "image_size": image_size, "dp_epsilon": dp_epsilon,
        "dp_delta": dp_delta, "dp_max_grad_norm": dp_max_grad_norm,
        "secure_aggregation": secure_aggregation or None})
    display = FederationDisplay(Console())
    outcome = run_federated_simulation(config, workspace=Workspace(), observers=[display])
    display.summary(outcome)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="the federation's name (and its model's)")],
    target: Annotated[str, typer.Option(help="the column to predict")],
    like: Annotated[Path | None, typer.Option(
        "--like", metavar="SAMPLE_FILE",
        help="a table like the holders' (the coordinator's own): the schema is declared from "
             "it, here; its rows are not sent")] = None,
    schema: Annotated[Path | None, typer.Option(
        help="the schema as JSON instead (as `trainforge federated status NAME --schema` "
             "prints it)")] = None,
    min_clients: Annotated[int | None, typer.Option(
        "--min-clients", help="holders that must join before the rounds start; a client "
                              "token is printed for each (default: 3)")] = None,
    rounds: Annotated[int | None, typer.Option(help="federated rounds (default: 10)")] = None,
    strategy: Annotated[str | None, typer.Option(
        help="auto, fedavg, fedprox or fedavgm (default: auto: FedAvgM from 20 rounds "
             "on, where it helps label-skewed holders, else FedAvg; trees are bagged)")] = None,
    join_timeout: Annotated[str, typer.Option(
        "--join-timeout", help="fail when fewer than --min-clients joined after this long "
                               "(90s, 10m, 2h)")] = "10m",
    seed: Annotated[int | None, typer.Option(help="random seed (default: 0)")] = None,
    model: Annotated[str | None, typer.Option(
        help="auto, linear, mlp or xgboost (trees bagged across the holders; default: auto: "
             "linear)")] = None,
    listen: Annotated[str | None, typer.Option(
        "--listen", metavar="HOST:PORT",
        help="where the coordinator listens and the holders dial, e.g. 10.0.0.5:9092 "
             "(default: 127.0.0.1 and a free port: holders on this machine only)")] = None,
    ssl_certfile: Annotated[Path | None, typer.Option(
        "--ssl-certfile", help="TLS: the coordinator's certificate (PEM), naming the "
                               "--listen host; with --ssl-keyfile and --ssl-ca-certfile")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(
        "--ssl-keyfile", help="TLS: that certificate's private key (PEM)")] = None,
    ssl_ca_certfile: Annotated[Path | None, typer.Option(
        "--ssl-ca-certfile", help="TLS: the CA certificate (PEM) that signed it; each holder "
                                  "joins with it as --root-certificates")] = None,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Create a federation the server coordinates, and print a client token for each holder.

    With --server, on that server (an editor's token); without, in the local workspace, whose
    `trainforge server` runs the coordinator. The --ssl-* flags are Flower's SuperLink's."""
    import json

    from rich.console import Console

    from trainforge.cli.remote import connect
    from trainforge.config import duration_s
    from trainforge.errors import ConfigError
    from trainforge.jobs.federation import (
        FederationSchema,
        check_schema,
        create_federation,
        declare_from_sample,
        describe,
    )
    from trainforge.workspace import Workspace

    if (like is None) == (schema is None):
        raise ConfigError("give --like SAMPLE_FILE (a table like the holders') or --schema "
                          "FILE, one of them")
    try:
        timeout_s = duration_s(join_timeout)
    except ValueError as error:
        raise ConfigError(f"--join-timeout: {error}") from None
    tls = coordinator_tls(ssl_certfile, ssl_keyfile, ssl_ca_certfile)
    config = build_federated_config({
        "name": name, "target": target, "min_clients": min_clients, "rounds": rounds,
        "strategy": strategy, "join_timeout_s": timeout_s, "seed": seed, "model": model,
        "listen": listen, "tls": tls is not None}, kind="federation")
    declared = (declare_from_sample(like, target) if like is not None else check_schema(
        FederationSchema.from_dict(json.loads(Path(str(schema)).read_text()))))
    remote = connect(server, token)
    if remote is None:
        created = create_federation(config, declared, workspace=Workspace(), created_by="cli",
                                    tls=tls)
        shown: dict[str, Any] = {**describe(created.record), "tokens": created.tokens,
                                 "notes": list(created.notes)}
        where = "this workspace (`trainforge server` runs its coordinator)"
    else:
        with remote:
            shown = remote.post("/api/v1/federations", json={
                **config.model_dump(), "schema": declared.to_dict(),
                **({} if tls is None else {"tls_certificate": tls.certificate,
                                           "tls_private_key": tls.private_key,
                                           "tls_ca_certificate": tls.ca_certificate})})
        where = remote.url
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"created federation [bold]{name}[/] on {where}: {shown['status']}")
    for note in shown["notes"]:
        console.print(f"[dim]note:[/] {note}")
    console.print(f"client tokens, one per holder (shown this once; `trainforge federated "
                  f"token {name}` makes more):")
    for client_token in shown["tokens"]:
        console.print(f"  {client_token}")


def coordinator_tls(certificate: Path | None, private_key: Path | None,
                    ca_certificate: Path | None) -> Any:
    """The --ssl-* files as a CoordinatorTls (all three), None (none), else ConfigError."""
    from trainforge.errors import ConfigError
    from trainforge.jobs.federation_tls import CoordinatorTls

    given = (certificate, private_key, ca_certificate)
    if all(path is None for path in given):
        return None
    if certificate is None or private_key is None or ca_certificate is None:
        raise ConfigError("TLS needs --ssl-certfile, --ssl-keyfile and --ssl-ca-certfile, all "
                          "three (Flower's SuperLink flags)")
    return CoordinatorTls.read(certificate=certificate, private_key=private_key,
                               ca_certificate=ca_certificate)


@app.command("token")
def token_(
    name: Annotated[str, typer.Argument(help="the federation")],
    count: Annotated[int, typer.Option(min=1, max=100, help="tokens to make")] = 1,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Make more client tokens for a federation (each joins it once, as its own holder)."""
    from trainforge.cli.remote import connect
    from trainforge.jobs.federation import make_client_token
    from trainforge.workspace import Workspace

    remote = connect(server, token)
    if remote is None:
        workspace = Workspace()
        made = [make_client_token(workspace, name, created_by="cli") for _ in range(count)]
    else:
        with remote:
            made = remote.post(f"/api/v1/federations/{name}/tokens",
                               json={"count": count})["tokens"]
    for client_token in made:
        typer.echo(client_token)


@app.command("status")
def status(
    name: Annotated[str, typer.Argument(help="the federation")],
    schema: Annotated[bool, typer.Option(
        "--schema", help="print its schema as JSON (what --schema of create reads)")] = False,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Where a federation stands: waiting for clients, running round k of R, or how it ended."""
    import json

    from trainforge.cli.remote import connect
    from trainforge.jobs.federation import describe
    from trainforge.store.federations import get_federation
    from trainforge.workspace import Workspace

    remote = connect(server, token)
    if remote is None:
        shown = describe(get_federation(Workspace(), name), with_schema=True)
    else:
        with remote:
            shown = remote.get(f"/api/v1/federations/{name}")
    if schema:
        typer.echo(json.dumps(shown["schema"], indent=1))
        return
    typer.echo(f"{name}: {shown['status']}")
    for member in shown["joined"]:
        typer.echo(f"  {member['client']}: {member['n_rows']:,} rows")


@app.command("list")
def list_(server: ServerOption = None, token: TokenOption = None) -> None:
    """Every federation, newest first, and where it stands."""
    from trainforge.cli.remote import connect
    from trainforge.jobs.federation import describe
    from trainforge.store.federations import list_federations
    from trainforge.workspace import Workspace

    remote = connect(server, token)
    if remote is None:
        shown = [describe(record) for record in list_federations(Workspace())]
    else:
        with remote:
            shown = remote.get("/api/v1/federations")
    for federation in shown:
        typer.echo(f"{federation['name']}: {federation['status']}")
    if not shown:
        typer.echo("no federation yet; `trainforge federated create` makes one")


@app.command("join")
def join(
    server: Annotated[str, typer.Argument(help="the trainforge server's URL")],
    name: Annotated[str, typer.Argument(help="the federation")],
    data: Annotated[Path, typer.Option(help="this holder's table; its rows stay here")],
    token: Annotated[str | None, typer.Option(
        help="a client token of the federation (or $TRAINFORGE_TOKEN)")] = None,
    root_certificates: Annotated[Path | None, typer.Option(
        "--root-certificates", metavar="CA.pem",
        help="a federation that speaks TLS: the CA certificate that signed its coordinator's "
             "(from its operator; Flower's SuperNode flag)")] = None,
) -> None:
    """Join a federation as a data holder: check DATA against its schema here, send the server
    a summary of it (never a row), train on it in the rounds until the federation ends."""
    from rich.console import Console

    from trainforge.cli.federated_join import join as join_federation
    from trainforge.errors import FederationFailed
    from trainforge.workspace import default_home

    console = Console(highlight=False, soft_wrap=True)
    # a holder needs no workspace: only the home that holds Flower's virtualenv
    ended = join_federation(server, name, data=data, token=token, home=default_home(),
                            console=console, root_certificates=root_certificates)
    if ended["state"] != "succeeded":
        raise FederationFailed("coordinator", ended["status"])
    console.print(f"the federation ended: registered {ended['model']} on {server}")


def build_federated_config(given: dict[str, Any], *, kind: str = "simulation") -> Any:
    """The flags the user typed as a FederatedSimulationConfig (or, ``kind="federation"``, a
    FederationConfig); an invalid one is one line naming it."""
    from pydantic import ValidationError

    from trainforge.config import FederatedSimulationConfig, FederationConfig
    from trainforge.errors import ConfigError

    config = FederationConfig if kind == "federation" else FederatedSimulationConfig
    try:
        return config(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as error:
        problems = "; ".join(f"--{str(e['loc'][0]).replace('_', '-')}: {e['msg']}"
                             for e in error.errors())
        raise ConfigError(f"invalid federation settings: {problems}") from None


class FederationDisplay:
    """A line per phase and per round, then the comparison."""

    def __init__(self, console: Any) -> None:
        self.console = console

    def on_phase(self, text: str) -> None:
        self.console.print(f"[dim]…[/] {text}", highlight=False)

    def on_round(self, record: dict[str, Any]) -> None:
        from trainforge.jobs.rounds import round_line

        self.console.print(round_line(record), highlight=False)

    def summary(self, outcome: Any) -> None:
        from rich.table import Table

        metric = outcome.task.metric
        table = Table(title=f"{metric} on the holders' held-out rows")
        for column in ("model", "rows", metric):
            table.add_column(column)
        for name, evaluation in outcome.clients.items():
            table.add_row(f"federated, {name}", f"{evaluation.n_rows:,}",
                          _number(evaluation.metrics.get(metric)))
        table.add_row("federated, weighted by rows", "",
                      _number(outcome.weighted.get(metric)))
        table.add_row("federated, all held-out rows", f"{outcome.federated.n_rows:,}",
                      _number(outcome.federated.metrics.get(metric)))
        table.add_row("centralised (same rows pooled)", f"{outcome.centralised.n_rows:,}",
                      _number(outcome.centralised.metrics.get(metric)))
        self.console.print(table)
        for note in outcome.notes:
            self.console.print(f"[dim]note:[/] {note}", highlight=False)
        version = outcome.version
        self.console.print(f"registered [bold]{version.name}:{version.version}[/] (run "
                           f"{outcome.run_id}) in {outcome.elapsed_s:.1f} s; serve it with "
                           f"`trainforge serve {version.name}:{version.version}`", highlight=False)
        self.console.print(f"report: {version.path / 'report.html'}", highlight=False)


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"
