"""Three doors onto the same jobs: every CLI verb that does work is also a REST job kind and a
web form (DESIGN.md). Adding a verb without its doors fails here."""

from __future__ import annotations

import typing

import pytest
import typer
from fastapi.testclient import TestClient

from trainforge.cli.app import app
from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app
from trainforge.server.job_requests import RL_ALGORITHMS, JobRequest
from trainforge.server.ui.job_forms import form_url
from trainforge.store import access
from trainforge.workspace import Workspace

# verbs that start no job, each with where its other doors are, if it has any
NOT_JOBS = {
    "serve": "POST /api/v1/deployments and the deployments page serve a model",
    "server": "is the server itself",
    "feedback": "POST /v1/models/{name}/feedback and the deployments page's label upload "
                "record labels at once (no job: a batch is at most 10,000 labels)",
    "policy set": "PUT /api/v1/models/{name}/retrain-policy and the model page's form",
    "policy show": "GET /api/v1/models/{name}/retrain-policy; the model page shows it",
    "policy check": "with --now, POST /api/v1/models/{name}/retrain and the model page's "
                    "button queue the ordinary train job kind (no job kind of its own)",
    "deployments list": "GET /api/v1/deployments and the deployments page",
    "deployments deploy": "POST /api/v1/deployments and the deployments page's form deploy "
                          "at once (loading a package is no job)",
    "deployments undeploy": "DELETE /api/v1/deployments/{name} and the page's button",
    "deployments shadow": "PUT /api/v1/deployments/{name}/shadow and the page's form",
    "deployments promote": "POST /api/v1/deployments/{name}/promote and the page's button",
    "deployments rollback": "POST /api/v1/deployments/{name}/rollback and the page's button",
    "deployments auto-promote": "PUT /api/v1/deployments/{name}/promotion-rule",
    "deployments compare": "reads the logs: GET /api/v1/deployments/{name}/comparison and "
                           "the page /deployments/{name}/comparison",
    "deployments history": "GET /api/v1/deployments/{name}/history; the deployments page "
                           "shows it",
    "data profile": "POST /api/v1/datasets profiles every upload; the dataset page shows it",
    "algorithms list": "reads the catalog",
    "models list": "GET /api/v1/models",
    "models show": "GET /api/v1/models/{name}",
    "models alias": "PUT /api/v1/models/{name}/aliases/{alias}",
    "models delete": "DELETE /api/v1/models/{name}",
    "models card": "GET and PATCH /api/v1/models/{name}/versions/{version}/card; the model "
                   "page shows the card with its edit form (an edit is no job)",
    "monitor": "reads the prediction log: GET /api/v1/deployments/{name}/monitoring and the "
               "page /deployments/{name}/monitoring (nothing to submit, so no form)",
    "runs list": "GET /api/v1/runs",
    "runs show": "GET /api/v1/runs/{run_id}",
    "token create": "POST /api/v1/tokens (admin)",
    "token list": "GET /api/v1/tokens (admin)",
    "token revoke": "DELETE /api/v1/tokens/{token_id} (admin)",
    "user create": "administers the server's own users, on its machine",
    "user passwd": "administers the server's own users, on its machine",
    "user disable": "administers the server's own users, on its machine",
    "user enable": "administers the server's own users, on its machine",
    "user list": "administers the server's own users, on its machine",
    "label create": "POST /api/v1/labeling/projects and the labeling page's form make a "
                    "project at once (reading the table is no job)",
    "label status": "GET /api/v1/labeling/projects/{name} and the page /labeling/{name}",
    "label export": "POST /api/v1/labeling/projects/{name}/export and the project page's "
                    "buttons write the labels at once (no job: a table of labels)",
    "federated setup": "installs Flower's virtualenv on the machine it runs on (with pip): "
                       "set up the workers' machines so, not through a request",
    "label import": "POST /api/v1/labeling/projects/{name}/import records labels at once, "
                    "checked whole first",
    "federated create": "POST /api/v1/federations and the federations page's form create a "
                        "federation and queue its coordinator job (kind federation, which "
                        "only a federation's creation queues)",
    "federated token": "POST /api/v1/federations/{name}/tokens makes client tokens at once",
    "federated status": "GET /api/v1/federations/{name} and the federations page",
    "federated list": "GET /api/v1/federations and the federations page",
    "federated join": "runs on the data holder's machine, whose rows never reach the server; "
                      "POST /api/v1/federations/{name}/join admits it",
}


def verbs(typer_app: typer.Typer, prefix: str = "") -> list[str]:
    """Every command of ``typer_app``, sub-apps' commands as "group command"."""
    found = [prefix + (command.name or command.callback.__name__.replace("_", "-"))
             for command in typer_app.registered_commands if command.callback is not None]
    for group in typer_app.registered_groups:
        found += verbs(group.typer_instance, f"{prefix}{group.name} ")
    return found


def job_kinds() -> set[str]:
    members = typing.get_args(typing.get_args(JobRequest)[0])
    return {typing.get_args(member.model_fields["kind"].annotation)[0] for member in members}


JOB_VERBS = [verb for verb in verbs(app) if verb not in NOT_JOBS]


def kind_of(verb: str) -> str:
    return verb.replace(" ", "_")  # "rl train" is the job kind "rl_train"


def test_the_cli_verbs_that_do_work_are_the_ones_expected():
    assert sorted(JOB_VERBS) == ["anomalies", "cluster", "evaluate", "federated simulate",
                                 "predict", "rl eval", "rl train", "train", "update"]


def test_every_exception_is_still_a_verb_of_the_cli():
    assert set(NOT_JOBS) <= set(verbs(app))


@pytest.mark.parametrize("verb", JOB_VERBS)
def test_every_verb_that_does_work_is_a_job_kind_of_the_server(verb: str):
    assert kind_of(verb) in job_kinds()


@pytest.fixture(scope="module")
def editor(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    from tests._paths import EXAMPLES
    from tests.server._jobs import upload
    from tests.server._ui import log_in

    workspace = Workspace(tmp_path_factory.mktemp("doors") / "home")
    upload(workspace, EXAMPLES / "wine.csv")  # the training page shows its form once there is one
    access.create_user(workspace, username="eve", password="correct horse battery",
                       role="editor")
    client = TestClient(create_server_app(workspace, ServerConfig()))
    log_in(client, "eve", "correct horse battery")
    return client


@pytest.mark.parametrize("verb", JOB_VERBS)
def test_every_verb_that_does_work_has_a_web_form(editor: TestClient, verb: str):
    kind = kind_of(verb)
    answer = editor.get(form_url(kind))
    assert answer.status_code == 200
    assert 'hx-post="/ui/jobs' in answer.text and "<form" in answer.text


def test_the_rest_bodies_name_the_rl_algorithms_the_agents_know():
    from trainforge.rl.agents import ALGORITHMS

    assert set(RL_ALGORITHMS) == set(ALGORITHMS)
