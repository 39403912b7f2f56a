"""The labeling routes: who may do what, the next item, images served only from the project,
and the quick model refitted off the request, in a process whose death labeling survives."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from tests._paths import EXAMPLES
from tests.labeling._projects import text_project
from tests.server._jobs import upload, wait_for
from tests.server.conftest import bearer

from trainforge.config import ServerConfig
from trainforge.data.dataset import ColumnKind
from trainforge.data.read import read_table
from trainforge.data.task import Task, TaskKind
from trainforge.evaluation.label_issues import LabelIssue, LabelIssues
from trainforge.jobs import labeling as jobs
from trainforge.jobs.label_review import send_for_review
from trainforge.server.app import create_server_app
from trainforge.server.auth import SESSION_COOKIE
from trainforge.store import access
from trainforge.store.datasets import add_to_profile, record_dataset
from trainforge.store.uploads import set_dataset
from trainforge.workspace import Workspace

API = "/api/v1/labeling/projects"


@pytest.fixture
def annotator(workspace: Workspace) -> dict[str, str]:
    return bearer(access.create_token(workspace, name="ann", role="annotator")[0])


@pytest.fixture
def sms(workspace: Workspace, tmp_path: Path) -> str:
    return text_project(workspace, tmp_path)["name"]


def test_an_editor_makes_a_project_from_an_uploaded_table(client, workspace, tokens):
    dataset = upload(workspace, EXAMPLES / "sms_spam.csv")
    answer = client.post(API, headers=bearer(tokens["editor"]), json={
        "name": "sms", "dataset": dataset, "classes": ["ham", "spam"], "text_column": "text"})
    assert answer.status_code == 201
    assert answer.json()["items"] == 1000


def test_an_annotator_labels_the_item_it_is_given(client, annotator, sms):
    item = client.get(f"{API}/{sms}/next", headers=annotator).json()
    answer = client.post(f"{API}/{sms}/items/{item['item']}/label", headers=annotator,
                         json={"label": "spam", "note": "obvious"})
    assert answer.status_code == 200
    assert client.get(f"{API}/{sms}", headers=annotator).json()["per_person"] == {
        "ann": {"labels": 1, "skips": 0}}


def test_a_label_outside_the_classes_is_a_422_that_does_not_echo_it(client, annotator, sms):
    answer = client.post(f"{API}/{sms}/items/0/label", headers=annotator,
                         json={"label": "<img src=x>"})
    assert answer.status_code == 422
    assert "<img" not in answer.text


def test_a_viewer_may_not_label(client, tokens, sms):
    answer = client.post(f"{API}/{sms}/items/0/label", headers=bearer(tokens["viewer"]),
                         json={"label": "spam"})
    assert answer.status_code == 403


def test_an_annotator_may_not_export_labels(client, annotator, workspace, sms):
    jobs.label_item(workspace, sms, 0, annotator="ann", label="spam")
    answer = client.post(f"{API}/{sms}/export", headers=annotator, json={"format": "csv"})
    assert answer.status_code == 403
    assert "needs the editor role" in answer.json()["detail"]


def test_an_annotator_may_not_train(client, annotator, workspace):
    dataset = upload(workspace, EXAMPLES / "wine.csv")
    answer = client.post("/api/v1/jobs", headers=annotator,
                         json={"kind": "train", "dataset": dataset, "target": "cultivar"})
    assert answer.status_code == 403


def test_exporting_before_any_label_is_a_409(client, tokens, sms):
    answer = client.post(f"{API}/{sms}/export", headers=bearer(tokens["editor"]), json={})
    assert answer.status_code == 409


def test_the_image_route_refuses_a_project_that_has_no_images(client, tokens, sms):
    answer = client.get(f"{API}/{sms}/items/0/image", headers=bearer(tokens["viewer"]))
    assert answer.status_code == 422


def test_the_image_route_serves_the_projects_own_image(client, workspace, tokens, tmp_path):
    folder = tmp_path / "pics"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        Image.new("L", (4, 4)).save(folder / name)
    jobs.create_project(workspace, "pics", folder, classes="x,y")
    answer = client.get(f"{API}/pics/items/1/image", headers=bearer(tokens["viewer"]))
    assert (answer.status_code, answer.headers["content-type"]) == (200, "image/png")
    assert answer.content == (folder / "b.png").read_bytes()


@pytest.mark.slow  # the refit process starts (~5 s of imports on a busy 2-core box)
def test_a_new_label_reorders_the_queue_in_the_background(workspace, annotator, sms):
    with TestClient(create_server_app(workspace, ServerConfig())) as client:
        for item, label in ((0, "spam"), (1, "ham")):
            client.post(f"{API}/{sms}/items/{item}/label", headers=annotator,
                        json={"label": label})
        models = client.app.state.quick_models
        fitted = wait_for(lambda: models.latest(1), timeout_s=60, what="the quick model")
        shown = client.get(f"{API}/{sms}/next", headers=annotator).json()
    assert (shown["item"], shown["why"]) == (fitted.ranked[0], "the quick model is least sure")


@pytest.mark.slow  # the refit process starts (~5 s of imports on a busy 2-core box)
def test_a_killed_refit_process_leaves_the_page_in_the_source_order_saying_so(
        workspace, annotator, sms):
    access.create_user(workspace, username="ann", password="a long password",
                       role="annotator")
    secret, _ = access.create_session(workspace, "ann")
    with TestClient(create_server_app(workspace, ServerConfig())) as client:
        for item, label in ((0, "spam"), (1, "ham")):
            client.post(f"{API}/{sms}/items/{item}/label", headers=annotator,
                        json={"label": label})
        models = client.app.state.quick_models
        wait_for(lambda: models.latest(1), timeout_s=60, what="the quick model")
        os.kill(models.pid, signal.SIGKILL)
        wait_for(lambda: models.down, timeout_s=10, what="the refit process's death noticed")
        client.cookies.set(SESSION_COOKIE, secret)
        page = client.get(f"/labeling/{sms}/label")
    assert (page.status_code, 'data-item="2"' in page.text) == (200, True)
    assert "next in the source&#39;s order" in page.text
    assert 'id="quick-model-down"' in page.text


def test_a_reviewed_row_is_shown_with_its_given_label_and_the_suggested_one(client, workspace,
                                                                           tmp_path):
    frame = pd.DataFrame({"text": ["win cash now"], "label": ["ham"]}, index=[3])
    issues = LabelIssues(n_checked=20, issues=(LabelIssue(
        row=3, given="ham", likely="spam", given_probability=0.1, likely_probability=0.9),))
    send_for_review(workspace, frame, issues, model="sms", run_id="r1",
                    task=Task("label", TaskKind.BINARY, "f1", classes=("ham", "spam")),
                    schema={"text": ColumnKind.TEXT}, features=["text"])
    access.create_user(workspace, username="ann", password="a long password",
                       role="annotator")
    client.cookies.set(SESSION_COOKIE, access.create_session(workspace, "ann")[0])
    page = client.get("/labeling/sms-label-issues/label").text
    assert "labelled <strong>ham</strong>; the model suggests <strong>spam</strong>" in page
    assert 'value="spam" class="suggested"' in page


def test_the_dataset_page_lists_the_label_issues_a_run_found(client, workspace, tmp_path):
    upload_id = upload(workspace, EXAMPLES / "wine.csv")
    dataset_id = record_dataset(workspace, read_table(EXAMPLES / "wine.csv"))
    set_dataset(workspace, upload_id, dataset_id)
    add_to_profile(workspace, dataset_id, "label_issues", {
        "count": 1, "n_checked": 120, "method": "confident learning", "action": "keep",
        "run_id": "r1", "top": [{"row": 17, "given": "setosa", "likely": "virginica",
                                 "confidence": 0.93, "given_probability": 0.02}]})
    access.create_user(workspace, username="val", password="a long password", role="viewer")
    client.cookies.set(SESSION_COOKIE, access.create_session(workspace, "val")[0])
    page = client.get(f"/datasets/{upload_id}").text
    assert "<h2>Label issues</h2>" in page
    assert "<td>setosa</td><td>virginica</td><td class=\"num\">0.93</td>" in page
