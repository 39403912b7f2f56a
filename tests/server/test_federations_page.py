"""The federations page: each federation with where it stands, for a signed-in user."""

from __future__ import annotations

import re

import pytest
from tests._paths import EXAMPLES
from tests.federated._certificates import self_signed
from tests.server._jobs import upload
from tests.server._ui import log_in

from trainforge.config import FederationConfig
from trainforge.jobs.federation import create_federation, declare_from_sample
from trainforge.store import access


@pytest.fixture
def editor_client(client, workspace):
    """``client`` signed in as an editor, with the htmx headers a form sends (CSRF token)."""
    access.create_user(workspace, username="eve", password="correct horse battery",
                       role="editor")
    log_in(client, "eve", "correct horse battery")
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/").text).group(1)
    client.headers.update({"X-CSRF-Token": csrf, "HX-Request": "true"})
    return client


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


def test_the_new_federation_form_shows_the_client_tokens_once(editor_client, workspace):
    dataset = upload(workspace, EXAMPLES / "credit_g.csv")
    answer = editor_client.post("/ui/federations", data={
        "name": "credit-fed", "dataset": dataset, "target": "class", "min_clients": "2",
        "rounds": "3", "strategy": "fedavg", "join_timeout_s": "60"})
    assert answer.text.count("<li><code>tf_") == 2
    assert "waiting for clients: 0 of 2 joined" in answer.text


def test_the_new_federation_form_creates_an_mlp_federation_speaking_tls(
        editor_client, workspace, tmp_path):
    files = self_signed(tmp_path)
    answer = editor_client.post("/ui/federations", data={
        "name": "credit-tls", "dataset": upload(workspace, EXAMPLES / "credit_g.csv"),
        "target": "class", "min_clients": "2", "model": "mlp", "listen": "127.0.0.1:9092",
        "tls_certificate": files.certificate.read_text(),
        "tls_private_key": files.private_key.read_text(),
        "tls_ca_certificate": files.ca_certificate.read_text()})
    assert answer.text.count("<li><code>tf_") == 2
    assert "auto, mlp, TLS" in editor_client.get("/federations").text  # the form's default


def test_the_new_federation_form_names_an_invalid_field(editor_client, workspace):
    dataset = upload(workspace, EXAMPLES / "credit_g.csv")
    answer = editor_client.post("/ui/federations", data={
        "name": "credit-fed", "dataset": dataset, "target": "class", "rounds": "0"})
    assert 'class="error"' in answer.text and "rounds" in answer.text


def test_a_federations_coordinator_job_has_its_page_like_any_job(viewer, workspace):
    created = create_federation(
        FederationConfig(name="credit-fed", target="class", min_clients=2),
        declare_from_sample(EXAMPLES / "credit_g.csv", "class"), workspace=workspace,
        created_by="ana")
    assert "federation" in viewer.get("/jobs").text
    assert viewer.get(f"/jobs/{created.record['job_id']}").status_code == 200
