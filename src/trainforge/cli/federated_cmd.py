"""`trainforge federated …`: create Flower's own virtualenv, and simulate a federation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

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
    data: Annotated[str, typer.Argument(help="the table to split between simulated holders")],
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
        help="fedavg or fedprox (default: fedavg)")] = None,
    proximal_mu: Annotated[float | None, typer.Option(
        "--proximal-mu", help="FedProx's pull towards the global model (default: 0.1)")] = None,
    local_epochs: Annotated[int | None, typer.Option(
        "--local-epochs", help="passes over its rows a client makes each round (default: 1)"
    )] = None,
    learning_rate: Annotated[float | None, typer.Option(
        "--learning-rate", help="the clients' SGD step (default: 0.1)")] = None,
    secure_aggregation: Annotated[bool, typer.Option(
        "--secure-aggregation", help="SecAgg+: the coordinator learns only the sum of the "
                                     "updates; the report says how many may drop")] = False,
    name: Annotated[str | None, typer.Option(
        help="registry name (default: the file's stem, then -federated)")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed (default: 0)")] = None,
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
        "local_epochs": local_epochs, "learning_rate": learning_rate, "name": name,
        "secure_aggregation": secure_aggregation or None, "seed": seed})
    display = FederationDisplay(Console())
    outcome = run_federated_simulation(config, workspace=Workspace(), observers=[display])
    display.summary(outcome)


def build_federated_config(given: dict[str, Any]) -> Any:
    """The flags the user typed as a FederatedSimulationConfig; an invalid one is one line
    naming it."""
    from pydantic import ValidationError

    from trainforge.config import FederatedSimulationConfig
    from trainforge.errors import ConfigError

    try:
        return FederatedSimulationConfig(**{k: v for k, v in given.items() if v is not None})
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
        metrics = record["metrics"] or {}
        shown = ", ".join(f"{k} {metrics[k]:.4f}" for k in ("accuracy", "roc_auc", "r2", "rmse")
                          if k in metrics)
        self.console.print(f"round {record['round']}: {len(record['clients'])} clients, "
                           f"loss {record['loss']:.4f}{', ' + shown if shown else ''} "
                           f"({record['seconds']:.1f} s)", highlight=False)

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
