"""A model version's card over HTTP and on the model page: read by any role, its written
parts changed by editors only, with bodies checked whole."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient
from tests._paths import EXAMPLES
from tests.server.conftest import bearer

import trainforge as tf
from trainforge.config import MAX_CARD_TEXT, ServerConfig
from trainforge.server.app import create_server_app
from trainforge.store import access
from trainforge.workspace import Workspace

CARD = "/api/v1/models/credit/versions/2/card"


def test_a_trained_models_card_names_its_task_metrics_and_data(trained_client, trained_tokens):
    card = trained_client.get(CARD, headers=bearer(trained_tokens["viewer"])).json()
    assert (card["model"], card["task"]["kind"], card["task"]["target"]) == (
        {"name": "credit", "version": 2, "created_at": card["model"]["created_at"],
         "description": ""}, "binary", "class")
    assert card["metrics"]["test"]["roc_auc"] > 0.5
    assert (card["data"]["n_rows"], card["data"]["target"]) == (1000, "class")
    assert card["limits"]["verdict"] and card["lineage"]["run_id"]


def test_a_trained_models_card_lists_the_columns_that_weigh_most(trained_client,
                                                                trained_tokens):
    card = trained_client.get(CARD, headers=bearer(trained_tokens["viewer"])).json()
    top = card["explanations"]["top"]
    columns = set((EXAMPLES / "credit_g.csv").read_text().splitlines()[0].split(","))
    assert len(top) >= 3 and {row["feature"] for row in top} <= columns


def test_every_package_carries_its_card_as_markdown_under_its_hash(trained):
    version = trained.registry.versions("credit")[-1]
    markdown = trained.registry.package_file(version.ref, "MODEL_CARD.md")
    assert markdown is not None and markdown.startswith(b"# Model card: credit:2\n")


def test_an_editors_edit_shows_on_the_next_read_with_who_and_when(trained_client,
                                                                   trained_tokens):
    answer = trained_client.patch(CARD, headers=bearer(trained_tokens["editor"]),
                                  json={"intended_use": "pre-screening loan applications"})
    card = trained_client.get(CARD, headers=bearer(trained_tokens["viewer"])).json()
    written = card["written"]["intended_use"]
    assert answer.status_code == 200
    assert (written["text"], written["written_by"], written["written_at"][:2]) == (
        "pre-screening loan applications", "editor-token", "20")


@pytest.mark.parametrize("role", ["viewer", "annotator"])
def test_an_edit_by_a_role_below_editor_is_refused_with_403(trained_client, trained, role):
    token, _ = access.create_token(trained, name=f"{role}-2", role=role)
    answer = trained_client.patch(CARD, headers=bearer(token), json={"contact": "me"})
    card = trained_client.get(CARD, headers=bearer(token)).json()
    assert answer.status_code == 403 and "editor" in answer.json()["detail"]
    assert card["written"]["contact"] is None


def test_an_unknown_field_is_a_422_naming_the_field(trained_client, trained_tokens):
    answer = trained_client.patch(CARD, headers=bearer(trained_tokens["editor"]),
                                  json={"intended_use": "loans", "owner": "eve"})
    assert answer.status_code == 422
    assert [p["loc"] for p in answer.json()["detail"]] == [["body", "owner"]]


def test_an_over_long_value_is_a_422_naming_the_field_and_not_echoing_it(trained_client,
                                                                         trained_tokens):
    text = "secret " * (MAX_CARD_TEXT // 7 + 1)
    answer = trained_client.patch(CARD, headers=bearer(trained_tokens["editor"]),
                                  json={"caveats_and_recommendations": text})
    assert answer.status_code == 422 and "secret" not in answer.text
    assert answer.json()["detail"][0]["loc"] == ["body", "caveats_and_recommendations"]


def test_an_edit_naming_no_field_is_a_422_that_lists_them(trained_client, trained_tokens):
    answer = trained_client.patch(CARD, headers=bearer(trained_tokens["editor"]), json={})
    assert answer.status_code == 422 and "intended_use" in answer.json()["detail"]


def test_the_card_reads_as_markdown_and_as_a_page(trained_client, trained_tokens):
    viewer = bearer(trained_tokens["viewer"])
    markdown = trained_client.get(CARD, params={"format": "md"}, headers=viewer)
    html = trained_client.get(CARD, params={"format": "html"}, headers=viewer)
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text.startswith("# Model card: credit:2")
    assert html.headers["content-type"].startswith("text/html")
    assert "<h1>Model card: credit:2</h1>" in html.text
    assert "default-src 'none'" in html.headers["content-security-policy"]


def test_the_model_page_loads_the_card_panel(editor):
    assert 'hx-get="/ui/models/credit/card"' in editor.get("/models/credit").text
    panel = editor.get("/ui/models/credit/card").text
    assert "Model card of version 2" in panel and 'name="intended_use"' in panel


def test_an_edit_through_the_form_is_stored_as_the_signed_in_user(editor, trained_client,
                                                                 trained_tokens):
    answer = editor.post("/ui/models/credit/2/card",
                         data={"intended_use": "loans", "contact": "risk team"})
    card = trained_client.get(CARD, headers=bearer(trained_tokens["viewer"])).json()
    assert answer.status_code == 204
    assert {f: (n or {}).get("written_by") for f, n in card["written"].items() if n} == {
        "intended_use": "eve", "contact": "eve"}


def test_the_card_written_in_the_package_is_the_one_served(trained, trained_client,
                                                           trained_tokens):
    served = trained_client.get(CARD, params={"format": "md"},
                                headers=bearer(trained_tokens["viewer"])).text
    packaged = (trained.registry.versions("credit")[-1].path / "MODEL_CARD.md").read_text()
    assert served == packaged


@pytest.mark.slow  # a whole training: seconds (measured on the loaded VM, 2026-12-06)
def test_a_card_served_by_the_server_names_its_dataset_without_the_servers_path(tmp_path):
    ws = Workspace(tmp_path / "home")
    ws.home.mkdir(parents=True, exist_ok=True)
    data = ws.home / "credit_g.csv"  # a file of the server's own, as an upload is
    shutil.copy(EXAMPLES / "credit_g.csv", data)
    tf.train(data, target="class", name="inside", trials=1, algorithm="linear", workspace=ws)
    token, _ = access.create_token(ws, name="v", role="viewer")
    client = TestClient(create_server_app(ws, ServerConfig()))
    card = client.get("/api/v1/models/inside/versions/1/card", headers=bearer(token))
    assert card.status_code == 200 and str(ws.home) not in card.text
    assert card.json()["data"]["source"].startswith("<workspace>")
