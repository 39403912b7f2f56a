"""The web UI's pages over HTTP: login, sessions, CSRF, and each page with real data."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from tests._paths import EXAMPLES
from tests.server._ui import log_in

from trainforge.config import ClusterConfig
from trainforge.jobs.segments import SegmentsOutcome, run_clustering
from trainforge.server.auth import SESSION_COOKIE
from trainforge.store import access, jobs
from trainforge.workspace import Workspace

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def clustered_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SegmentsOutcome]:
    """A workspace holding ``wine-segments`` 1 (k-means, k=3, and its run), made once here."""
    home = tmp_path_factory.mktemp("clustered") / "home"
    made = Workspace(home)
    outcome = run_clustering(ClusterConfig(data=str(EXAMPLES / "wine.csv"), exclude=("cultivar",),
                                           method="kmeans", k=3), workspace=made)
    made.close()
    return home, outcome


@pytest.fixture
def workspace(request: pytest.FixtureRequest, new_workspace, tmp_path: Path) -> Workspace:
    """A new workspace; for the tests that ask for ``clustered``, their own copy of
    ``clustered_home`` (a copy costs milliseconds, a clustering seconds)."""
    if "clustered" not in request.fixturenames:
        return new_workspace(tmp_path / "home")
    shutil.copytree(request.getfixturevalue("clustered_home")[0], tmp_path / "home")
    return Workspace(tmp_path / "home")


@pytest.fixture
def clustered(clustered_home: tuple[Path, SegmentsOutcome]) -> SegmentsOutcome:
    return clustered_home[1]


def test_a_page_without_a_session_sends_the_browser_to_log_in(client):
    answer = client.get("/models", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=%2Fmodels"


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(client, workspace):
    access.create_user(workspace, username="ana", password=PASSWORD, role="viewer")
    answer = log_in(client, "ana", "not the password")
    assert answer.status_code == 401 and "Wrong user name or password" in answer.text
    assert SESSION_COOKIE not in client.cookies


def test_a_login_form_posted_from_elsewhere_is_refused(client, workspace):
    access.create_user(workspace, username="ana", password=PASSWORD, role="viewer")
    answer = client.post("/login", data={"username": "ana", "password": PASSWORD,
                                         "login_token": "forged"}, follow_redirects=False)
    assert answer.status_code == 403 and SESSION_COOKIE not in client.cookies


def test_login_goes_back_to_the_page_asked_for_but_never_off_site(client, workspace):
    access.create_user(workspace, username="ana", password=PASSWORD, role="viewer")
    assert log_in(client, "ana", PASSWORD, next_page="/runs").headers["location"] == "/runs"
    client.cookies.clear()
    answer = log_in(client, "ana", PASSWORD, next_page="//evil.example/x")
    assert answer.headers["location"] == "/"


def test_the_session_cookie_is_http_only(client, workspace):
    access.create_user(workspace, username="ana", password=PASSWORD, role="viewer")
    cookie = log_in(client, "ana", PASSWORD).headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_logout_needs_the_pages_csrf_token(viewer):
    assert viewer.post("/logout", data={"csrf_token": "forged"}).url.path == "/"
    assert viewer.get("/models", follow_redirects=False).status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', viewer.get("/").text).group(1)
    viewer.post("/logout", data={"csrf_token": csrf})
    assert viewer.get("/models", follow_redirects=False).status_code == 303


def test_the_model_page_shows_versions_metrics_and_links_the_report(viewer, clustered):
    html = viewer.get("/models/wine-segments").text
    assert "silhouette" in html and "/models/wine-segments/1/report" in html


def test_the_report_is_served_under_a_policy_that_allows_no_script(viewer, clustered):
    answer = viewer.get("/models/wine-segments/1/report")
    assert answer.status_code == 200 and "<img" in answer.text
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")


def test_the_run_page_offers_its_series_for_the_live_charts(viewer, clustered):
    page = viewer.get(f"/runs/{clustered.run_id}").text
    assert f'data-series-url="/runs/{clustered.run_id}/series"' in page
    series = viewer.get(f"/runs/{clustered.run_id}/series").json()["series"]
    steps, values = series["kmeans.silhouette"]
    assert steps == [3] and 0 < values[0] < 1


def test_comparing_runs_puts_the_settings_that_differ_first(viewer, workspace, clustered):
    other = run_clustering(ClusterConfig(data=str(EXAMPLES / "wine.csv"), exclude=("cultivar",),
                                         method="kmeans", k=2), workspace=workspace)
    html = viewer.get(f"/runs/compare?ids={clustered.run_id},{other.run_id}").text
    assert html.index('class="differs"><td>k<') < html.index("<td>method<")


def test_a_job_page_shows_its_log_and_polls_while_the_job_is_live(viewer, workspace):
    job_id = jobs.submit_job(workspace, kind="train", config={}, submitted_by="ana")
    jobs.append_log(workspace, job_id, "searching: 3 trials so far")
    page = viewer.get(f"/jobs/{job_id}").text
    assert "searching: 3 trials so far" in page and f"/jobs/{job_id}/log?after=" in page
    jobs.cancel_job(workspace, job_id)
    assert "job cancelled" in viewer.get(f"/jobs/{job_id}/log").text


def test_an_unknown_model_is_a_404_page_naming_it(viewer):
    answer = viewer.get("/models/nope")
    assert answer.status_code == 404 and "nope" in answer.text


def test_pages_forbid_framing_and_foreign_scripts(viewer):
    headers = viewer.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"


def test_the_runs_page_shows_a_hundred_runs_and_pages_to_older_ones(viewer, workspace):
    from trainforge.store.runs import start_run

    for index in range(105):
        start_run(workspace, kind="train", config={"seed": index}, dataset_id=None)
    first = viewer.get("/runs").text
    assert first.count('name="ids"') == 100 and 'href="/runs?offset=100"' in first
    assert viewer.get("/runs?offset=100").text.count('name="ids"') == 5
