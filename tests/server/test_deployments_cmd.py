"""`trainforge deployments …`: deploy with a shadow, promote, roll back and read the history,
on the local workspace's store (a server over it follows) or on a server (--server)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.server._jobs import running_app

from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app
from trainforge.store import access
from trainforge.store.deployments import get_deployment
from trainforge.workspace import Workspace


def test_a_local_promotion_is_served_by_a_server_over_the_workspace(trained: Workspace, cli):
    client = TestClient(create_server_app(trained, ServerConfig()))
    cli("deployments", "deploy", "credit:1", "--shadow", "credit:2", home=trained.home)
    done = cli("deployments", "promote", "credit", "--reason", "wins on labels",
               home=trained.home)
    client.app.state.deployments.sync()  # what its follower does every half second
    assert done.returncode == 0, done.stderr
    assert client.app.state.deployments.router.served["credit"].ref == "credit:2"


def test_the_history_shows_who_when_and_why(trained: Workspace, cli):
    cli("deployments", "deploy", "credit:1", "--shadow", "credit:2", home=trained.home)
    cli("deployments", "promote", "credit", "--reason", "wins on labels", home=trained.home)
    shown = cli("deployments", "history", "credit", home=trained.home).stdout
    assert "promote credit:1 → credit:2 by" in shown and ": wins on labels" in shown
    assert "shadow_on" in shown


def test_rollback_with_no_previous_version_fails_saying_so(trained: Workspace, cli):
    cli("deployments", "deploy", "credit:1", home=trained.home)
    done = cli("deployments", "rollback", "credit", home=trained.home)
    assert done.returncode != 0 and "no previous version" in done.stderr
    assert get_deployment(trained, "credit")["model_version"] == 1


def test_rollback_on_a_server_serves_the_previous_version(trained: Workspace, cli):
    token, _ = access.create_token(trained, name="cli", role="editor")
    with running_app(create_server_app(trained, ServerConfig())) as url:
        for ref in ("credit:1", "credit:2"):
            cli("deployments", "deploy", ref, "--server", url, "--token", token,
                home=trained.home)
        done = cli("deployments", "rollback", "credit", "--reason", "slow", "--server", url,
                   "--token", token, home=trained.home)
    assert done.returncode == 0, done.stderr
    assert "credit: credit:1" in done.stdout
    assert get_deployment(trained, "credit")["model_version"] == 1
