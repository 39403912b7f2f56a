"""`trainforge deployments list|deploy|undeploy|shadow|compare|promote|rollback|auto-promote|
history`: what each URL name serves, a challenger in shadow beside it, and the changes
between them, on the local workspace's store (a running server follows within a second) or
on a server (``--server``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trainforge.cli.remote import ServerOption, TokenOption, connect, timestamp

if TYPE_CHECKING:
    from rich.console import Console

    from trainforge.server.deployments import Deployments

app = typer.Typer(no_args_is_help=True, help="Deployments: what each name serves, a "
                                             "challenger in shadow, promotion and rollback.")
NameArgument = Annotated[str, typer.Argument(help="the deployment's URL name")]
ReasonOption = Annotated[str | None, typer.Option(
    help="why: kept in the deployment's history")]
API = "/api/v1/deployments"


def _local() -> Deployments:
    """The workspace's deployments, changed through its store: what a server over it serves
    follows the rows (no router is served from this process)."""
    from trainforge.server.deployments import Deployments, PredictionRouter
    from trainforge.workspace import Workspace

    return Deployments(Workspace(), PredictionRouter())


def _who() -> str | None:
    """Who the history names for a local change: the account running the command."""
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without one)
        return None


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False)


def _show(row: Mapping[str, Any], console: Console) -> None:
    shadow = f"  shadow {row['shadow']}" if row.get("shadow") else ""
    rule = row.get("promotion_rule")
    auto = (f"  auto-promote: margin {rule['min_margin']:g}, {rule['min_labels']} labels"
            if rule else "")
    problem = f"  problem: {row['problem']}" if row.get("problem") else ""
    console.print(f"{row['name']}: {row.get('ref')}{shadow}{auto}  ({row.get('url')}, by "
                  f"{row.get('deployed_by') or '–'}, {timestamp(row.get('created_at'))})"
                  f"{problem}")


@app.command("list")
def list_(server: ServerOption = None, token: TokenOption = None) -> None:
    """Every deployment: the version it serves, its shadow, its promotion rule."""
    client = connect(server, token)
    rows = client.get(API) if client is not None else _local().listing()
    console = _console()
    for row in rows:
        _show(row, console)
    if not rows:
        console.print("nothing deployed: `trainforge deployments deploy NAME@production`")


@app.command("deploy")
def deploy(
    ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS")],
    name: Annotated[str | None, typer.Option(help="the URL name (the model's name)")] = None,
    shadow: Annotated[str | None, typer.Option(
        help="a challenger answering a copy of the traffic, only logged")] = None,
    reason: ReasonOption = None, server: ServerOption = None, token: TokenOption = None,
) -> None:
    """Serve REF under NAME (replacing what it served), with --shadow beside it."""
    client = connect(server, token)
    row = (client.post(API, json={"model": ref, "name": name, "shadow": shadow,
                                  "reason": reason}) if client is not None else
           _local().deploy(ref, name=name, deployed_by=_who(), shadow=shadow, reason=reason))
    _show(row, _console())


@app.command("undeploy")
def undeploy(name: NameArgument, server: ServerOption = None, token: TokenOption = None) -> None:
    """Stop serving NAME."""
    client = connect(server, token)
    row = client.delete(f"{API}/{name}") if client is not None else _local().undeploy(
        name, by=_who())
    _console().print(f"{row['name']}: undeployed")


@app.command("shadow")
def shadow(
    name: NameArgument,
    ref: Annotated[str | None, typer.Argument(help="the challenger: NAME:VERSION or "
                                                   "NAME@ALIAS")] = None,
    off: Annotated[bool, typer.Option("--off", help="take the shadow away")] = False,
    reason: ReasonOption = None, server: ServerOption = None, token: TokenOption = None,
) -> None:
    """Put REF in shadow of NAME: it answers a copy of every request, logged, never returned."""
    from trainforge.errors import ConfigError

    if (ref is None) == (not off):
        raise ConfigError("give the challenger REF, or --off to take the shadow away")
    client = connect(server, token)
    row = (client.put(f"{API}/{name}/shadow", json={"model": ref, "reason": reason})
           if client is not None else _local().set_shadow(name, ref, by=_who(), reason=reason))
    _show(row, _console())


@app.command("promote")
def promote(name: NameArgument, reason: ReasonOption = None, server: ServerOption = None,
            token: TokenOption = None) -> None:
    """NAME's shadow becomes its champion (the old one stays in the history)."""
    client = connect(server, token)
    row = (client.post(f"{API}/{name}/promote", json={"reason": reason})
           if client is not None else _local().promote(name, by=_who(), reason=reason))
    _show(row, _console())


@app.command("rollback")
def rollback(name: NameArgument, reason: ReasonOption = None, server: ServerOption = None,
             token: TokenOption = None) -> None:
    """Serve the version NAME served before its current one, at once."""
    client = connect(server, token)
    row = (client.post(f"{API}/{name}/rollback", json={"reason": reason})
           if client is not None else _local().rollback(name, by=_who(), reason=reason))
    _show(row, _console())


@app.command("auto-promote")
def auto_promote(
    name: NameArgument,
    min_margin: Annotated[float, typer.Option(
        help="better than the champion by at least this, in the metric's units")] = 0.0,
    min_labels: Annotated[int, typer.Option(help="on at least this many labelled requests")
                          ] = 100,
    off: Annotated[bool, typer.Option("--off", help="promote only by hand")] = False,
    server: ServerOption = None, token: TokenOption = None,
) -> None:
    """Promote NAME's shadow by itself (the server checks every policy period) once it is
    better by --min-margin on --min-labels labelled requests, the bootstrap's 95% interval
    of the difference above zero."""
    client = connect(server, token)
    path = f"{API}/{name}/promotion-rule"
    if client is not None:
        row = client.delete(path) if off else client.put(
            path, json={"min_margin": min_margin, "min_labels": min_labels})
    else:
        from trainforge.monitoring.compare import PromotionRule

        row = _local().set_promotion_rule(
            name, None if off else PromotionRule(min_margin=min_margin, min_labels=min_labels))
    _show(row, _console())


@app.command("compare")
def compare(name: NameArgument,
            min_labels: Annotated[int | None, typer.Option(
                help="labelled requests needed for a verdict (the rule's, or 100)")] = None,
            server: ServerOption = None, token: TokenOption = None) -> None:
    """NAME's champion and shadow on the same requests and on the labelled feedback."""
    client = connect(server, token)
    if client is not None:
        shown = client.get(f"{API}/{name}/comparison",
                           **({} if min_labels is None else {"min_labels": min_labels}))
    else:
        from trainforge.monitoring.compare import compare_deployment
        from trainforge.workspace import Workspace

        workspace = Workspace()
        shown = compare_deployment(name, store=workspace, registry=workspace.registry,
                                   log_root=workspace.prediction_log,
                                   min_labels=min_labels).to_dict()
    render_comparison(shown, _console())


def render_comparison(shown: Mapping[str, Any], console: Console) -> None:
    console.print(f"{shown['deployment']}: champion {shown['champion']}, challenger "
                  f"{shown['challenger'] or '–'}")
    if shown["agreement"] is not None:
        console.print(f"  same requests: {shown['n_requests']:,}, agreeing on "
                      f"{shown['agreement']:.1%}")
    elif shown["mean_abs_difference"] is not None:
        console.print(f"  same requests: {shown['n_requests']:,}, mean |difference| "
                      f"{shown['mean_abs_difference']:.4g}")
    if shown["champion_score"] is not None:
        console.print(f"  {shown['metric']} on {shown['n_labels']:,} labels: champion "
                      f"{shown['champion_score']:.4f}, challenger "
                      f"{shown['challenger_score']:.4f} (p = {shown['p_value']:.3g})")
    console.print(f"  {shown['verdict']}")


@app.command("history")
def history(name: NameArgument, server: ServerOption = None,
            token: TokenOption = None) -> None:
    """Every change of what NAME serves: who, when, why (newest first)."""
    client = connect(server, token)
    events = (client.get(f"{API}/{name}/history") if client is not None
              else _local().history(name))
    console = _console()
    for event in events:
        change = (f"{event['from_model'] or event['model_name']}:{event['from_version']} → "
                  if event["from_version"] is not None else "")
        to = f"{event['model_name']}:{event['to_version']}" if event["to_version"] else "–"
        why = f": {event['reason']}" if event["reason"] else ""
        console.print(f"{timestamp(event['at'])} {event['action']} {change}{to} by "
                      f"{event['by'] or '–'}{why}")
