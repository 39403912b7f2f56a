"""The federations page: each federation with where it stands, for a signed-in user."""

from __future__ import annotations

from tests._paths import EXAMPLES

from trainforge.config import FederationConfig
from trainforge.jobs.federation import create_federation, declare_from_sample


def test_the_federations_page_shows_each_federation_waiting_for_its_clients(viewer, workspace):
    create_federation(FederationConfig(name="credit-fed", target="class", min_clients=2),
                      declare_from_sample(EXAMPLES / "credit_g.csv", "class"),
                      workspace=workspace, created_by="ana")
    html = viewer.get("/federations").text
    assert "credit-fed" in html
    assert "waiting for clients: 0 of 2 joined; the coordinator is starting" in html


def test_the_federations_page_says_when_there_is_none(viewer):
    assert "no federation yet" in viewer.get("/federations").text


def test_the_federations_page_sends_a_browser_without_a_session_to_log_in(client):
    answer = client.get("/federations", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
