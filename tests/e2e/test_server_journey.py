"""A real `uvicorn` platform server and the real `trainforge` command: tokens made with the
CLI, `--server` answering like the local workspace, a deployed model answering predictions."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests._paths import EXAMPLES
from tests.e2e._cli import trainforge
from tests.e2e._server import live_server

from trainforge.store import access
from trainforge.workspace import Workspace

pytestmark = pytest.mark.slow  # whole journeys: a live server and the CLI in new processes


@pytest.fixture
def home(trained_home: Path, tmp_path: Path) -> Path:
    """A copy of the session's ``trained_home`` (tests/conftest.py): ``credit`` 1 and 2."""
    copied = tmp_path / "home"
    shutil.copytree(trained_home, copied)
    return copied


@pytest.fixture(scope="module")
def served(trained_home: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[Path, str]]:
    """One server for the tests that talk to one, over a copy of ``trained_home`` of their
    own (a server takes seconds to start); each test makes the tokens it uses."""
    home = tmp_path_factory.mktemp("served") / "home"
    shutil.copytree(trained_home, home)
    with live_server(home) as url:
        yield home, url


def new_token(home: Path, role: str) -> str:
    """A token made as `trainforge token create` makes it (the tests below check that command
    in this process; a new process per token only cost seconds)."""
    workspace = Workspace(home)
    try:
        return access.create_token(workspace, name=f"e2e {role}", role=role)[0]
    finally:
        workspace.close()


def test_token_create_prints_the_token_once_and_says_so(cli, home):
    made = cli("token", "create", "--role", "viewer", home=home)
    assert made.stdout.strip().startswith("tf_") and "will not be shown again" in made.stderr
    listed = cli("token", "list", home=home).stdout
    assert "viewer" in listed and made.stdout.strip() not in listed


def test_token_revoke_marks_it_revoked_in_the_listing(cli, home):
    token = new_token(home, "viewer")
    revoked = cli("token", "revoke", token.split("_")[1], home=home)
    assert revoked.returncode == 0 and "revoked token" in revoked.stdout
    [record] = access.list_tokens(Workspace(home))
    assert record["revoked_at"] is not None


def test_models_list_with_server_prints_what_the_local_workspace_prints(served):
    home, url = served
    token = new_token(home, "viewer")
    local = trainforge("models", "list", home=home)
    remote = trainforge("models", "list", "--server", url, "--token", token, home=home)
    assert remote.returncode == 0, remote.stderr
    assert remote.stdout == local.stdout and "credit" in local.stdout


def test_runs_list_and_show_with_server_print_what_local_prints(served):
    home, url = served
    token = new_token(home, "viewer")
    local_list = trainforge("runs", "list", home=home).stdout
    run_id = local_list.splitlines()[3].split()[1]
    local_show = trainforge("runs", "show", run_id, home=home).stdout
    remote = ["--server", url, "--token", token]
    assert trainforge("runs", "list", *remote, home=home).stdout == local_list
    assert trainforge("runs", "show", run_id, *remote, home=home).stdout == local_show


def test_a_viewer_token_cannot_promote_through_server(served):
    home, url = served
    token = new_token(home, "viewer")
    refused = trainforge("models", "alias", "credit", "1", "production", "--server", url,
                         "--token", token, home=home)
    assert refused.returncode == 6 and "editor role" in refused.stderr


def test_a_cli_revoked_token_is_refused_by_the_server(served):
    home, url = served
    token = new_token(home, "admin")
    trainforge("token", "revoke", token.split("_")[1], home=home)
    answer = httpx.get(f"{url}/api/v1/models", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401


def test_a_model_deployed_over_http_answers_predictions_on_the_same_server(served):
    home, url = served
    editor = {"Authorization": f"Bearer {new_token(home, 'editor')}"}
    with open(EXAMPLES / "credit_g.csv", newline="") as handle:
        record: dict[str, object] = next(csv.DictReader(handle))
    record.pop("class")
    deployed = httpx.post(f"{url}/api/v1/deployments", json={"model": "credit"},
                          headers=editor, timeout=60)
    assert deployed.status_code == 201, deployed.text
    answer = httpx.post(f"{url}/v1/models/credit/predict", json={"records": [record]},
                        headers=editor, timeout=30)
    assert answer.status_code == 200, answer.text
    # deploying a name without a version serves its latest
    assert answer.json()["model"] == "credit:2" and answer.json()["predictions"][0] in (
        "good", "bad")
