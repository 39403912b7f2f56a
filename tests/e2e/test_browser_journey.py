"""The whole journey in a real browser against a server with job workers: log in, upload a
dataset, start training, watch the job finish, deploy the model, get a prediction from the
try-it form; no JavaScript error on the way."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from tests._paths import EXAMPLES
from tests.e2e._browser import signed_in
from tests.e2e._live_server import live_server

from trainforge.server.supervisor import Supervisor
from trainforge.store import access
from trainforge.workspace import Workspace

pytestmark = [pytest.mark.slow,  # a browser against a live server
              pytest.mark.skipif(shutil.which("chromium") is None,
                                 reason="needs Debian's chromium (.ci/run installs it)")]


@pytest.fixture
def server(tmp_path) -> Iterator[dict[str, str]]:
    workspace = Workspace(tmp_path / "home")
    username, password = access.ensure_first_admin(workspace)
    workers = Supervisor(workspace, workers=1, heartbeat_s=1.0, stale_after_s=30.0)
    workers.start()
    try:
        with live_server(workspace) as url:
            yield {"url": url, "username": username, "password": password}
    finally:
        workers.stop()


def test_a_person_trains_deploys_and_tries_a_model_in_the_browser(server, tmp_path):
    with signed_in(server) as (page, errors):
        url = server["url"]

        page.goto(url + "/datasets")
        page.set_input_files("input[type=file]", str(EXAMPLES / "credit_g.csv"))
        page.click("button:has-text('Upload')")
        page.wait_for_url("**/datasets/*", timeout=30_000)

        page.click("text=Train a model on this dataset")
        page.wait_for_url("**/train?dataset=*")
        page.select_option("select[name=target]", "class")
        page.fill("input[name=name]", "credit")
        # the form's smallest budget is 5 s; 10 leaves a loaded machine time for a first trial
        page.fill("input[name=time_budget]", "10")
        page.click("button:has-text('Start training')")
        page.wait_for_url("**/jobs/*", timeout=20_000)
        page.wait_for_selector(".line.end:has-text('job succeeded')", timeout=240_000)
        assert page.inner_text("#job-status") == "succeeded"

        page.goto(url + "/deployments")
        page.select_option("select[name=model]", "credit")
        page.click("button:has-text('Deploy')")
        page.wait_for_selector("form.try", timeout=30_000)
        page.fill("form.try input[name=credit_amount]", "4000")
        page.fill("form.try input[name=duration]", "24")
        page.click("form.try button")
        page.wait_for_selector(".answer .prediction", timeout=20_000)
        prediction = page.inner_text(".answer .prediction")
    assert prediction in ("good", "bad")
    assert errors == []
