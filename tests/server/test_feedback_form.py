"""The deployments page's label upload: a CSV of true outcomes for one deployment, recorded
as the REST route records them."""

from __future__ import annotations

import pytest

from trainforge.monitoring.prediction_log import PredictionLog, new_request_id
from trainforge.store.feedback import list_labels


@pytest.fixture
def editor(editor):
    """The signed-in editor of conftest, with ``credit`` deployed."""
    editor.app.state.deployments.deploy("credit", deployed_by="ann")
    return editor


def test_the_deployments_page_offers_an_editor_a_label_upload(editor):
    page = editor.get("/deployments").text
    assert 'hx-post="/ui/deployments/credit/feedback"' in page and 'type="file"' in page


def test_a_csv_of_labels_uploaded_through_the_form_is_recorded(editor, trained):
    request_id = new_request_id()
    log = PredictionLog(trained.prediction_log)
    log.record(deployment="credit", model="credit", version=2, request_id=request_id,
               inputs={"age": [30]}, outputs={"prediction": ["good"]}, n_rows=1,
               latency_s=0.001)
    log.flush()
    answer = editor.post("/ui/deployments/credit/feedback",
                         files={"file": ("labels.csv", f"request_id,label\n{request_id},bad\n")})
    assert answer.status_code == 200 and "1 recorded" in answer.text
    assert [r["label"] for r in list_labels(trained, "credit")] == ["bad"]
