"""Jobs and runs show dataset ids and names, never the server's paths: not in the API's
answers, not in the web UI's pages."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from tests._paths import EXAMPLES
from tests.server._jobs import upload
from tests.server._ui import log_in
from tests.server.conftest import bearer

from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app
from trainforge.server.workers import Worker
from trainforge.store import access
from trainforge.workspace import Workspace

pytestmark = pytest.mark.slow  # two jobs run through a worker (in this process)

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Finished:
    """A train job that succeeded and one that failed (its target is not a column), both run
    by a worker, on a platform of their own: made once for this module's tests, which read it."""

    workspace: Workspace
    client: TestClient
    tokens: dict[str, str]
    good: str
    bad: str
    dataset: str


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Finished:
    workspace = Workspace(tmp_path_factory.mktemp("paths") / "home")
    client = TestClient(create_server_app(workspace, ServerConfig()))
    tokens = {role: access.create_token(workspace, name=f"{role}-token", role=role)[0]
              for role in ("viewer", "editor")}
    dataset = upload(workspace, EXAMPLES / "credit_g.csv")
    editor = bearer(tokens["editor"])
    good = client.post("/api/v1/jobs", headers=editor, json={
        "kind": "train", "dataset": dataset, "target": "class", "name": "credit",
        "algorithm": "linear", "trials": 1}).json()["id"]
    bad = client.post("/api/v1/jobs", headers=editor, json={
        "kind": "train", "dataset": dataset, "target": "no_such_column",
        "trials": 1}).json()["id"]
    Worker(workspace, name="test-worker", heartbeat_s=0.2).run_forever(max_jobs=2)
    return Finished(workspace, client, tokens, good, bad, dataset)


def api_answers(client, token: str, good: str, bad: str) -> dict[str, str]:
    headers = bearer(token)
    run_id = client.get(f"/api/v1/jobs/{good}", headers=headers).json()["run_id"]
    paths = ["/api/v1/jobs", f"/api/v1/jobs/{good}", f"/api/v1/jobs/{bad}",
             f"/api/v1/jobs/{good}/logs", f"/api/v1/jobs/{bad}/logs", "/api/v1/runs",
             f"/api/v1/runs/{run_id}"]
    return {path: client.get(path, headers=headers).text for path in paths}


def test_no_api_answer_about_jobs_or_runs_holds_a_server_path(finished: Finished):
    answers = api_answers(finished.client, finished.tokens["viewer"], finished.good,
                          finished.bad)
    assert [path for path, text in answers.items()
            if str(finished.workspace.home) in text] == []


def test_a_job_names_its_dataset_by_id_and_file_name(finished: Finished):
    job = finished.client.get(f"/api/v1/jobs/{finished.good}",
                              headers=bearer(finished.tokens["viewer"])).json()
    assert job["status"] == "succeeded", job["error"]
    assert (job["config"]["dataset"], job["config"]["dataset_name"]) == (finished.dataset,
                                                                          "credit_g.csv")


def test_a_failed_jobs_error_names_the_file_and_the_dataset_id(finished: Finished):
    error = finished.client.get(f"/api/v1/jobs/{finished.bad}",
                                headers=bearer(finished.tokens["viewer"])).json()["error"]
    assert f"credit_g.csv (dataset {finished.dataset})" in error


def test_no_web_page_about_jobs_or_runs_holds_a_server_path(finished: Finished):
    client, good, bad = finished.client, finished.good, finished.bad
    run_id = client.get(f"/api/v1/jobs/{good}",
                        headers=bearer(finished.tokens["viewer"])).json()["run_id"]
    access.create_user(finished.workspace, username="vic", password=PASSWORD, role="viewer")
    log_in(client, "vic", PASSWORD)
    pages = ["/", "/jobs", f"/jobs/{good}", f"/jobs/{bad}", f"/jobs/{bad}/log", "/runs",
             f"/runs/{run_id}", f"/runs/compare?ids={run_id},{run_id}"]
    shown = {page: client.get(page).text for page in pages}
    assert [page for page, text in shown.items() if str(finished.workspace.home) in text] == []
