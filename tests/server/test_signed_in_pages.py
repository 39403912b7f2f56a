"""The pages that read something for a signed-in user (the labeling pages, the model card):
what they read is shown; a browser without a session goes to log in; a refusal is the
missing page (or, for the card's panel, an error fragment)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.labeling._projects import text_project
from tests.server._ui import log_in

from trainforge.store import access


@pytest.fixture
def sms(workspace, tmp_path: Path) -> str:
    return text_project(workspace, tmp_path)["name"]


def test_a_labeling_project_page_shows_the_project(viewer, sms):
    answer = viewer.get(f"/labeling/{sms}")
    assert answer.status_code == 200 and sms in answer.text


@pytest.fixture
def annotator(client, workspace):
    access.create_user(workspace, username="ann", password="a long password",
                       role="annotator")
    assert log_in(client, "ann", "a long password").status_code == 303
    return client


def test_the_labeling_page_shows_the_annotators_next_item(annotator, sms):
    assert 'data-item="0"' in annotator.get(f"/labeling/{sms}/label").text


def test_the_disagreements_page_of_a_project_without_any_lists_none(viewer, sms):
    answer = viewer.get(f"/labeling/{sms}/disagreements")
    assert answer.status_code == 200 and "data-item" not in answer.text


def test_a_labeling_page_without_a_session_sends_the_browser_to_log_in(client, sms):
    answer = client.get(f"/labeling/{sms}/label", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?next=%2Flabeling%2F{sms}%2Flabel"


def test_an_unknown_project_is_the_missing_page_naming_it(viewer):
    answer = viewer.get("/labeling/nope")
    assert answer.status_code == 404 and "nope" in answer.text


def test_the_image_of_a_text_project_is_refused_on_the_missing_page(viewer, sms):
    answer = viewer.get(f"/labeling/{sms}/items/0/image")
    assert answer.status_code == 422 and answer.headers["content-type"].startswith("text/html")


def test_a_models_card_page_is_the_card_under_its_own_policy(editor):
    answer = editor.get("/models/credit/2/card")
    assert "<h1>Model card: credit:2</h1>" in answer.text
    assert "default-src 'none'" in answer.headers["content-security-policy"]


def test_the_card_page_of_an_unknown_version_is_the_missing_page(editor):
    assert editor.get("/models/credit/9/card").status_code == 404


def test_the_card_panel_of_an_unknown_model_is_an_error_fragment(editor):
    answer = editor.get("/ui/models/nope/card")
    assert 'class="error"' in answer.text and "nope" in answer.text
