"""The web UI's training form carries --dp-epsilon and --dp-delta to the queued job, as the
REST body does (both are TrainConfig's fields)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests._paths import EXAMPLES

from trainforge.store import jobs
from trainforge.workspace import Workspace


def _upload(editor: TestClient) -> str:
    with open(EXAMPLES / "credit_g.csv", "rb") as handle:
        return str(editor.post("/ui/datasets", files={"file": ("credit.csv", handle)}
                               ).headers["hx-redirect"].rsplit("/", 1)[1])


def test_the_training_forms_privacy_budget_reaches_the_queued_job(editor: TestClient,
                                                                   trained: Workspace):
    dataset = _upload(editor)
    assert 'name="dp_epsilon"' in editor.get("/train").text
    answer = editor.post("/ui/jobs", data={"dataset": dataset, "target": "class",
                                           "dp_epsilon": "3", "dp_delta": "1e-6"})
    queued = jobs.get_job(trained, answer.headers["hx-redirect"].rsplit("/", 1)[1])
    assert (queued["config"]["train"]["dp_epsilon"], queued["config"]["train"]["dp_delta"]) == (
        3.0, 1e-6)


def test_a_negative_epsilon_in_the_form_is_refused_naming_the_field(editor: TestClient):
    answer = editor.post("/ui/jobs", data={"dataset": _upload(editor), "target": "class",
                                           "dp_epsilon": "-1"})
    assert "dp_epsilon" in answer.text and "greater than 0" in answer.text
