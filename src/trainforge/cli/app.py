"""The Typer application and the one place errors become exit codes.

Each sub-command module imports its heavy dependencies inside the command, so
``trainforge --help`` loads none of them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import typer

from trainforge.cli import (
    data_cmd,
    deployments_cmd,
    federated_cmd,
    feedback_cmd,
    label_cmd,
    models_cmd,
    monitor_cmd,
    policy_cmd,
    predict_cmd,
    rl_cmd,
    runs_cmd,
    segments_cmd,
    server_cmd,
    token_cmd,
    train_cmd,
    update_cmd,
    user_cmd,
)

app = typer.Typer(
    name="trainforge", no_args_is_help=True, add_completion=False,
    help="Train, evaluate, register and serve models from your own data: "
         "`trainforge train DATA --target COLUMN`.",
    pretty_exceptions_enable=False)
app.command("train")(train_cmd.train)
app.command("cluster")(segments_cmd.cluster)
app.command("anomalies")(segments_cmd.anomalies)
app.command("predict")(predict_cmd.predict)
app.command("evaluate")(predict_cmd.evaluate)
app.command("serve")(predict_cmd.serve)
app.command("server")(server_cmd.server)
app.command("feedback")(feedback_cmd.feedback)
app.command("monitor")(monitor_cmd.monitor)
app.command("update")(update_cmd.update)
app.add_typer(models_cmd.app, name="models")
app.add_typer(deployments_cmd.app, name="deployments")
app.add_typer(policy_cmd.app, name="policy")
app.add_typer(runs_cmd.app, name="runs")
app.add_typer(data_cmd.app, name="data")
app.add_typer(data_cmd.algorithms_app, name="algorithms")
app.add_typer(rl_cmd.app, name="rl")
app.add_typer(federated_cmd.app, name="federated")
app.add_typer(token_cmd.app, name="token")
app.add_typer(user_cmd.app, name="user")
app.add_typer(label_cmd.app, name="label")


def run(argv: Sequence[str]) -> int:
    """Run the CLI; a TrainforgeError is one line on stderr and its exit code."""
    from trainforge.errors import TrainforgeError

    debug = "--debug" in argv or os.environ.get("TRAINFORGE_DEBUG") == "1"
    args = [a for a in argv if a != "--debug"]
    try:
        app(args, prog_name="trainforge", standalone_mode=False)
    except TrainforgeError as error:
        if debug:
            raise
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {error}", highlight=False)
        return error.exit_code
    except (typer.Exit, SystemExit) as done:
        code = getattr(done, "exit_code", getattr(done, "code", 0))
        return int(code or 0)
    except KeyboardInterrupt as interrupt:
        print(str(interrupt) or "interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # click's usage errors
        import click

        if isinstance(error, click.ClickException):
            error.show()
            return error.exit_code
        if isinstance(error, click.exceptions.Abort):
            return 130
        raise
    return 0
