"""`trainforge user …`: the web UI's accounts in the local workspace's store (run it on the
server's machine, as the user whose workspace the server uses).

A password is never an argument (it would sit in the shell's history and in ``ps``): it is
generated and written to a file only you may read, typed at a prompt, or read from stdin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from trainforge.workspace import Workspace

app = typer.Typer(help="Create users of the web UI, change their passwords, disable them, "
                       "list them.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(metavar="NAME", help="the user name")]
FromStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="read the password from the first line of stdin")]
Prompt = Annotated[bool, typer.Option(
    "--prompt", help="type the password (twice, not shown)")]


@app.command("create")
def create(
    username: Name,
    role: Annotated[str, typer.Option(help="viewer (reads), editor (also uploads, trains, "
                                           "promotes, deploys) or admin (also users, tokens, "
                                           "deletes)")],
    password_stdin: FromStdin = False,
    prompt: Prompt = False,
) -> None:
    """Add a user; their password is generated into a file only you may read, unless given."""
    from trainforge.store import access
    from trainforge.workspace import Workspace

    workspace = Workspace()
    access.check_role(role)
    given = _given_password(password_stdin=password_stdin, prompt=prompt)
    password = access.generate_password() if given is None else given
    access.create_user(workspace, username=username, password=password, role=role)
    typer.echo(f"created user {username} ({role})")
    if given is None:
        _hand_over(workspace, username, password)


@app.command("passwd")
def passwd(username: Name, password_stdin: FromStdin = False, prompt: Prompt = False) -> None:
    """Set a user's password (generated, unless given) and end their sessions."""
    from trainforge.store import access
    from trainforge.workspace import Workspace

    workspace = Workspace()
    given = _given_password(password_stdin=password_stdin, prompt=prompt)
    password = access.generate_password() if given is None else given
    access.set_password(workspace, username, password=password)
    typer.echo(f"changed the password of {username}; their sessions have ended")
    if given is None:
        _hand_over(workspace, username, password)
    else:  # an earlier generated password must not lie around
        (workspace.secrets / _secret_name(username)).unlink(missing_ok=True)


@app.command("disable")
def disable(username: Name) -> None:
    """Stop a user: no login, sessions ended, the tokens they created refused; until enabled."""
    from trainforge.server.auth import TOKEN_CACHE_S
    from trainforge.store import access
    from trainforge.workspace import Workspace

    access.disable_user(Workspace(), username)
    typer.echo(f"disabled {username}: their sessions have ended; the tokens they created stop "
               f"working within {TOKEN_CACHE_S:.0f} s")


@app.command("enable")
def enable(username: Name) -> None:
    """Let a disabled user log in again (their tokens work again too)."""
    from trainforge.store import access
    from trainforge.workspace import Workspace

    access.enable_user(Workspace(), username)
    typer.echo(f"enabled {username}")


@app.command("list")
def list_users() -> None:
    """Every user with role, state, and when created and last logged in."""
    from rich.console import Console
    from rich.table import Table

    from trainforge.store import access
    from trainforge.workspace import Workspace

    users = access.list_users(Workspace())
    console = Console()
    if not users:
        console.print("no users yet: `trainforge server` creates the admin on its first start")
        return
    table = Table()
    for column in ("name", "role", "state", "created", "last login"):
        table.add_column(column)
    for user in users:
        table.add_row(user["username"], user["role"],
                      "disabled" if user["disabled"] else "active",
                      *(str(user[k] or "–")[:19] for k in ("created_at", "last_login_at")))
    console.print(table)


def _given_password(*, password_stdin: bool, prompt: bool) -> str | None:
    """The password typed or piped in, or None to generate one."""
    import sys

    from trainforge.errors import ConfigError

    if password_stdin and prompt:
        raise ConfigError("--password-stdin and --prompt both give the password; use one")
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if prompt:
        return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))
    return None


def _secret_name(username: str) -> str:
    return f"user-{username}.txt"  # a checked user name is a safe file name


def _hand_over(workspace: Workspace, username: str, password: str) -> None:
    path = workspace.write_secret(_secret_name(username), (
        f"# trainforge: the web UI password of {username}. Hand it over, then delete this "
        f"file.\nusername: {username}\npassword: {password}\n"))
    typer.echo(f"their password is in {path} (readable by you only): hand it over, then "
               "delete the file")
