"""The web UI in real headless Chromium (Debian's, driven by Playwright): log in, then every
page loads with no JavaScript error and its live parts (charts, log polling) work."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests._paths import EXAMPLES
from tests.e2e._live_server import live_server

from trainforge.config import ClusterConfig
from trainforge.jobs.segments import run_clustering
from trainforge.store import access, jobs
from trainforge.workspace import Workspace

CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.slow,  # a browser against a live server
              pytest.mark.skipif(shutil.which("chromium") is None,
                                 reason="needs Debian's chromium (.ci/run installs it)")]


@pytest.fixture(scope="module")
def site(trained_home: Path, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[dict[str, str]]:
    """A live server over a copy of ``trained_home`` (``credit`` 1 and 2), with a clustering
    run, a first admin and a job with a log line."""
    home = tmp_path_factory.mktemp("ui") / "home"
    shutil.copytree(trained_home, home)
    workspace = Workspace(home)
    username, password = access.ensure_first_admin(workspace)
    done = run_clustering(ClusterConfig(data=str(EXAMPLES / "wine.csv"), exclude=("cultivar",),
                                        method="kmeans", k=3), workspace=workspace)
    job_id = jobs.submit_job(workspace, kind="train", config={}, submitted_by=username)
    jobs.append_log(workspace, job_id, "reading wine.csv")
    with live_server(workspace) as url:
        yield {"url": url, "username": username, "password": password, "run": done.run_id,
               "job": job_id, "workspace": str(workspace.home)}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def signed_in(site, browser):
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on("console", lambda message: errors.append(f"console: {message.text}")
            if message.type == "error" else None)
    page.goto(site["url"] + "/")
    page.fill("input[name=username]", site["username"])
    page.fill("input[name=password]", site["password"])
    page.click("button[type=submit]")
    page.wait_for_url(site["url"] + "/")
    yield page, errors
    context.close()


@pytest.mark.parametrize("path", ["/", "/datasets", "/jobs", "/runs", "/models", "/deployments",
                                  "/models/wine-segments", "/models/wine-segments/1/report"])
def test_every_page_loads_without_a_javascript_error(signed_in, site, path):
    page, errors = signed_in
    answer = page.goto(site["url"] + path)
    page.wait_for_load_state("networkidle")
    assert answer.status == 200 and errors == []


def test_the_run_page_draws_its_learning_curves(signed_in, site):
    page, errors = signed_in
    page.goto(f"{site['url']}/runs/{site['run']}")
    page.wait_for_selector(".chart canvas", timeout=10_000)
    assert page.locator(".chart").count() >= 1 and errors == []


def test_a_live_job_page_shows_new_log_lines_as_they_come(signed_in, site):
    page, errors = signed_in
    page.goto(f"{site['url']}/jobs/{site['job']}")
    jobs.append_log(Workspace(site["workspace"]), site["job"], "trial 1: lightgbm 0.91")
    page.wait_for_selector("text=trial 1: lightgbm 0.91", timeout=10_000)
    assert errors == []


def test_runs_can_be_compared_from_the_runs_page(signed_in, site):
    page, errors = signed_in
    page.goto(site["url"] + "/runs")
    page.check(f"input[value='{site['run']}']")
    page.click("text=Compare the selected runs")
    page.wait_for_url("**/runs/compare?ids=*")
    assert errors == []


def test_logging_out_ends_the_session(signed_in, site):
    page, _ = signed_in
    page.click("text=Log out")
    page.wait_for_url("**/login")
    page.goto(site["url"] + "/models")
    assert "/login" in page.url


def test_a_dataset_uploaded_in_the_browser_gets_its_own_page(signed_in, site):
    page, errors = signed_in
    page.goto(site["url"] + "/datasets")
    page.set_input_files("input[type=file]", str(EXAMPLES / "credit_g.csv"))
    page.click("button:has-text('Upload')")
    page.wait_for_url("**/datasets/*", timeout=20_000)
    assert "credit_g.csv" in page.inner_text("h1") and errors == []


def test_deploy_then_try_it_shows_the_models_prediction(signed_in, site):
    page, errors = signed_in
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(site["url"] + "/deployments")
    page.select_option("select[name=model]", "credit")
    page.click("button:has-text('Deploy')")
    page.wait_for_selector("form.try", timeout=20_000)
    page.fill("form.try input[name=credit_amount]", "4000")
    page.fill("form.try input[name=age]", "35")
    page.click("form.try button")
    page.wait_for_selector(".answer .prediction", timeout=10_000)
    assert page.inner_text(".answer .prediction") in ("good", "bad") and errors == []
