"""`trainforge models …`: the registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from trainforge.cli.remote import ServerOption, TokenOption, connect, timestamp

app = typer.Typer(help="List, inspect, alias and delete registered models.", no_args_is_help=True)


@app.command("list")
def list_models(server: ServerOption = None, token: TokenOption = None) -> None:
    """Every registered model with its latest version and aliases."""
    from trainforge.cli.render import as_dict
    from trainforge.workspace import Workspace

    remote = connect(server, token)
    if remote is not None:
        with remote:
            render_models(remote.get("/api/v1/models"))
    else:
        render_models([as_dict(s) for s in Workspace().registry.list_models()])


def render_models(summaries: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not summaries:
        console.print("no models yet: train one with `trainforge train DATA --target COLUMN`")
        return
    table = Table()
    for column in ("name", "latest", "aliases", "task", "metric", "created"):
        table.add_column(column)
    for row in summaries:
        aliases = row.get("aliases") or {}
        shown = ", ".join(f"{k}→{v}" for k, v in aliases.items()) if isinstance(aliases, dict) \
            else ", ".join(map(str, aliases))
        metric = row.get("metric_value")
        table.add_row(str(row.get("name")), str(row.get("latest_version")), shown,
                      str(row.get("task", "")),
                      f"{row.get('metric', '')} {metric:.4f}" if isinstance(metric, float) else "",
                      timestamp(row.get("created_at")))
    console.print(table)


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS")],
    as_json: Annotated[bool, typer.Option("--json", help="print the manifest as JSON")] = False,
    server: ServerOption = None, token: TokenOption = None,
) -> None:
    """A model version's manifest: task, signature, metrics, lineage, files."""
    from rich.console import Console

    from trainforge.registry.refs import ModelRef
    from trainforge.workspace import Workspace

    remote = connect(server, token)
    if remote is not None:
        parsed = ModelRef.parse(ref)
        with remote:
            manifest = remote.get(f"/api/v1/models/{parsed.name}/versions/"
                                  f"{parsed.version or parsed.alias or 'latest'}")
    else:
        manifest = Workspace().registry.show(ref)
    if as_json:
        typer.echo(json.dumps(manifest, indent=2, default=str))
        return
    console = Console()
    task = manifest.get("task", {})
    # clustering, anomaly and policy packages have no target and no test split
    supervised = task.get("kind") in ("binary", "multiclass", "regression")
    what = (f"{task.get('kind')} of {task.get('target')!r}, optimising {task.get('metric')}"
            if supervised else f"{task.get('kind')}, judged by {task.get('metric')}")
    console.print(f"[bold]{manifest.get('name')}:{manifest.get('version')}[/]  {what}")
    console.print(f"aliases: {', '.join(manifest.get('aliases', [])) or 'none'}")
    metrics = manifest.get("metrics", {})
    shown = metrics.get("test", {}) if supervised else metrics
    console.print(("test metrics: " if supervised else "metrics: ") + ", ".join(
        f"{k}={v:.4g}" for k, v in shown.items() if isinstance(v, (int, float))))
    members = manifest.get("members", [])
    if task.get("kind") == "reinforcement":  # a policy: no blend, no table of inputs
        lineage = manifest.get("lineage", {})
        console.print(f"policy: {lineage.get('algorithm')} trained {lineage.get('timesteps'):,} "
                      f"timesteps on {lineage.get('env')}; acts on observations of shape "
                      f"{tuple(lineage.get('observation_shape', []))} with actions in "
                      f"{lineage.get('action_space')} (POST /v1/models/{manifest.get('name')}/act)",
                      highlight=False)
        console.print(f"[dim]full manifest: trainforge models show {ref} --json[/]")
        return
    if supervised:
        console.print("blend: " + ", ".join(f"{m.get('algorithm')} ×{m.get('weight', 1):.2g}"
                                            for m in members))
    else:
        console.print("model: " + ", ".join(f"{m.get('algorithm')} {m.get('params', {})}"
                                            for m in members), highlight=False)
    inputs = manifest.get("signature", manifest.get("inputs", []))
    console.print("inputs: " + ", ".join(f"{f['name']} ({f['dtype']})" for f in inputs))
    console.print(f"[dim]full manifest: trainforge models show {ref} --json[/]")


@app.command("alias")
def alias(
    name: Annotated[str, typer.Argument()],
    version: Annotated[int, typer.Argument()],
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS", help="e.g. production")],
    server: ServerOption = None, token: TokenOption = None,
) -> None:
    """Point ALIAS (e.g. production) at a version; `NAME@ALIAS` then resolves to it."""
    from trainforge.workspace import Workspace

    remote = connect(server, token)
    if remote is not None:
        with remote:
            remote.put(f"/api/v1/models/{name}/aliases/{alias_name}", json={"version": version})
    else:
        Workspace().registry.alias(name, version, alias_name)
    typer.echo(f"{name}@{alias_name} → version {version}")


@app.command("delete")
def delete(
    name: Annotated[str, typer.Argument()],
    version: Annotated[int | None, typer.Argument(help="one version; all when omitted")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
    force: Annotated[bool, typer.Option("--force", help="undeploy it first where it is "
                                                        "deployed (refused otherwise)")] = False,
    server: ServerOption = None, token: TokenOption = None,
) -> None:
    """Delete a model version (or every version) and its files; a deployed one only with
    --force, which undeploys it."""
    from trainforge.workspace import Workspace

    what = f"{name}:{version}" if version is not None else f"every version of {name}"
    if not yes and not typer.confirm(f"delete {what}{' (undeploying it)' if force else ''}?"):
        raise typer.Exit(1)
    remote = connect(server, token)
    if remote is not None:
        path = (f"/api/v1/models/{name}" if version is None
                else f"/api/v1/models/{name}/versions/{version}")
        with remote:
            remote.delete(path + ("?force=true" if force else ""))
    else:
        Workspace().registry.delete(name, version, force=force)
    typer.echo(f"deleted {what}")


@app.command("card")
def card(
    ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS")],
    card_format: Annotated[str, typer.Option(
        "--format", help="md (Markdown), html (a page) or json")] = "md",
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="write the card to this file instead of printing it")] = None,
    changes: Annotated[list[str] | None, typer.Option(
        "--set", metavar="FIELD=TEXT",
        help="write a part only a person knows (repeatable): intended_use, intended_users, "
             "out_of_scope_uses, ethical_considerations, caveats_and_recommendations, "
             "contact; FIELD= clears it")] = None,
    server: ServerOption = None, token: TokenOption = None,
) -> None:
    """A model version's card: what it is for, its data, metrics overall and per group,
    fairness, known limits, lineage; --set writes the parts only a person knows."""
    from trainforge.jobs.model_cards import edit_model_card, model_card, render_card
    from trainforge.registry.refs import ModelRef
    from trainforge.workspace import Workspace

    if card_format not in ("md", "html", "json"):
        raise typer.BadParameter(f"{card_format[:20]!r} is not md, html or json",
                                 param_hint="--format")
    edit = _card_edit(changes or [])
    remote = connect(server, token)
    if remote is not None:
        parsed = ModelRef.parse(ref)
        path = (f"/api/v1/models/{parsed.name}/versions/"
                f"{parsed.version or parsed.alias or 'latest'}/card")
        with remote:
            shown = (remote.patch(path, json=edit.model_dump(exclude_unset=True))
                     if edit is not None else remote.get(path))
    elif edit is not None:
        shown = edit_model_card(Workspace(), ref, edit, written_by=_local_user())
    else:
        shown = model_card(Workspace(), ref)
    text = render_card(shown, card_format)  # type: ignore[arg-type]  # checked above
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote the card of {shown['model']['name']}:{shown['model']['version']} "
               f"to {out}")


def _card_edit(changes: list[str]) -> Any:
    """``--set FIELD=TEXT`` options as a ModelCardEdit (None without any); a refusal names
    the field."""
    from pydantic import ValidationError

    from trainforge.config import ModelCardEdit
    from trainforge.errors import ConfigError

    if not changes:
        return None
    fields: dict[str, str] = {}
    for change in changes:
        field, equals, text = change.partition("=")
        if not equals:
            raise ConfigError(f"--set {field[:40]!r} needs FIELD=TEXT, e.g. --set "
                              "intended_use=\"pre-screening credit applications\"")
        fields[field.strip()] = text
    try:
        return ModelCardEdit(**fields)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))[:40]}: {e['msg']}"
                             for e in error.errors())
        raise ConfigError(f"--set: {problems}") from None


def _local_user() -> str | None:
    """Who writes a card on this machine: the login name, as the store records it."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return None
