"""The UI's forms over HTTP: each needs the session's CSRF header and the right role, calls
what the API calls, and answers htmx with a redirect or a fragment to show."""

from __future__ import annotations

import re

import pytest
from tests._paths import EXAMPLES
from tests.server._ui import log_in

from trainforge.store import access

PASSWORD = "correct horse battery"


def _csrf(client) -> str:
    return re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/").text).group(1)


@pytest.fixture
def viewer(trained_client, trained):
    access.create_user(trained, username="vic", password=PASSWORD, role="viewer")
    log_in(trained_client, "vic", PASSWORD)
    trained_client.headers["X-CSRF-Token"] = _csrf(trained_client)
    return trained_client


def test_uploading_through_the_form_leads_to_the_new_datasets_page(editor):
    with open(EXAMPLES / "credit_g.csv", "rb") as handle:
        answer = editor.post("/ui/datasets", files={"file": ("credit.csv", handle)})
    assert answer.status_code == 204
    page = editor.get(answer.headers["hx-redirect"]).text
    assert "credit.csv" in page and "checking_status" in page


def test_a_form_without_the_csrf_header_changes_nothing(editor):
    del editor.headers["X-CSRF-Token"]
    answer = editor.post("/ui/deployments", data={"model": "credit"})
    assert "CSRF" in answer.text and editor.get("/deployments").text.count("Undeploy") == 0


def test_a_viewer_is_told_which_role_a_form_needs(viewer):
    answer = viewer.post("/ui/deployments", data={"model": "credit"})
    assert "editor role" in answer.text and "Undeploy" not in viewer.get("/deployments").text


def test_deploy_then_try_it_answers_as_the_prediction_endpoint_does(editor):
    assert editor.post("/ui/deployments", data={"model": "credit"}).headers[
        "hx-redirect"] == "/deployments"
    page = editor.get("/deployments").text
    assert 'name="credit_amount"' in page and "credit:2" in page
    assert '<option value="no checking">' in page  # a category's levels are offered
    row = {"duration": "24", "credit_amount": "4000", "age": "35", "checking_status": "<0"}
    answer = editor.post("/ui/deployments/credit/try", data=row).text
    assert "credit:2 predicts" in answer and re.search(r"<strong class=\"prediction\">(good|bad)<",
                                                        answer)


def test_a_try_it_value_of_the_wrong_type_is_named(editor):
    editor.post("/ui/deployments", data={"model": "credit"})
    answer = editor.post("/ui/deployments/credit/try", data={"age": "old"}).text
    assert "age" in answer and 'class="error"' in answer


def test_undeploy_stops_the_prediction_endpoint(editor, trained_tokens):
    editor.post("/ui/deployments", data={"model": "credit"})
    editor.post("/ui/deployments/credit/undeploy")
    answer = editor.post("/v1/models/credit/predict", json={"records": []},
                         headers={"Authorization": f"Bearer {trained_tokens['viewer']}"})
    assert answer.status_code == 404


def test_promoting_moves_the_alias_shown_on_the_model_page(editor):
    answer = editor.post("/ui/models/credit/aliases", data={"version": "1", "alias": "production"})
    assert answer.headers["hx-redirect"] == "/models/credit"
    assert "production" in editor.get("/models/credit").text


def test_the_training_form_offers_the_datasets_columns_and_queues_a_job(editor):
    with open(EXAMPLES / "credit_g.csv", "rb") as handle:
        dataset = editor.post("/ui/datasets", files={"file": ("credit.csv", handle)}
                              ).headers["hx-redirect"].rsplit("/", 1)[1]
    assert "<option>checking_status</option>" in editor.get(f"/ui/columns?dataset={dataset}").text
    answer = editor.post("/ui/jobs", data={"dataset": dataset, "target": "class",
                                           "time_budget": "30"})
    job_page = editor.get(answer.headers["hx-redirect"]).text
    assert "Train job" in job_page and "queued" in job_page


def test_the_training_forms_label_issues_choice_reaches_the_queued_job(editor, trained):
    from trainforge.store import jobs

    with open(EXAMPLES / "credit_g.csv", "rb") as handle:
        dataset = editor.post("/ui/datasets", files={"file": ("credit.csv", handle)}
                              ).headers["hx-redirect"].rsplit("/", 1)[1]
    assert '<option value="review">' in editor.get("/train").text
    answer = editor.post("/ui/jobs", data={"dataset": dataset, "target": "class",
                                           "label_issues": "review"})
    job_id = answer.headers["hx-redirect"].rsplit("/", 1)[1]
    assert jobs.get_job(trained, job_id)["config"]["train"]["label_issues"] == "review"


def test_a_bad_training_setting_is_named_in_the_form(editor):
    answer = editor.post("/ui/jobs", data={"dataset": "nope", "target": "class"})
    assert "dataset" in answer.text and 'class="error"' in answer.text


def test_a_runs_page_ranks_its_algorithms_by_their_best_validation_score(editor, trained):
    run_id = trained.registry.versions("credit")[0].run_id
    page = editor.get(f"/runs/{run_id}").text
    assert "Leaderboard" in page and "<td>linear</td>" in page
    assert "trials.linear" in editor.get(f"/runs/{run_id}/series").json()["series"]


def test_the_job_pages_cancel_button_cancels_a_queued_job(editor, trained):
    from trainforge.store import jobs

    job_id = jobs.submit_job(trained, kind="train", config={}, submitted_by="eve")
    assert "Cancel the job" in editor.get(f"/jobs/{job_id}").text
    editor.post(f"/ui/jobs/{job_id}/cancel")
    assert jobs.get_job(trained, job_id)["status"] == "cancelled"
    assert "Cancel the job" not in editor.get(f"/jobs/{job_id}").text


def test_a_job_form_queues_the_job_its_inputs_describe(editor, trained):
    from trainforge.store import jobs

    dataset = _upload_through_the_form(editor, "wine.csv")
    assert 'name="exclude"' in editor.get("/jobs/new/cluster").text
    answer = editor.post("/ui/jobs/new/cluster", data={"dataset": dataset, "k": "3",
                                                       "exclude": "cultivar, proline"})
    job = jobs.get_job(trained, answer.headers["hx-redirect"].rsplit("/", 1)[1])
    assert job["kind"] == "cluster" and job["config"]["cluster"]["k"] == 3
    assert job["config"]["cluster"]["exclude"] == ["cultivar", "proline"]


def test_a_bad_job_form_value_is_named_in_the_form(editor):
    answer = editor.post("/ui/jobs/new/rl_train", data={"env": "CartPole-v1", "timesteps": "0"})
    assert "timesteps" in answer.text and 'class="error"' in answer.text


def test_the_predict_forms_explain_field_reaches_the_queued_job(editor, trained):
    from trainforge.store import jobs

    dataset = _upload_through_the_form(editor, "credit_g.csv")
    assert 'name="explain_top_k"' in editor.get("/jobs/new/predict").text
    answer = editor.post("/ui/jobs/new/predict", data={"dataset": dataset, "model": "credit:1",
                                                       "explain_top_k": "4"})
    job = jobs.get_job(trained, answer.headers["hx-redirect"].rsplit("/", 1)[1])
    assert job["kind"] == "predict" and job["config"]["explain_top_k"] == 4


def test_the_training_forms_intended_use_reaches_the_queued_job(editor, trained):
    from trainforge.store import jobs

    with open(EXAMPLES / "credit_g.csv", "rb") as handle:
        dataset = editor.post("/ui/datasets", files={"file": ("credit.csv", handle)}
                              ).headers["hx-redirect"].rsplit("/", 1)[1]
    assert 'name="intended_use"' in editor.get("/train").text
    answer = editor.post("/ui/jobs", data={"dataset": dataset, "target": "class",
                                           "intended_use": "pre-screening",
                                           "intended_users": ""})
    config = jobs.get_job(trained, answer.headers["hx-redirect"].rsplit("/", 1)[1])["config"]
    assert (config["train"]["intended_use"], config["train"]["intended_users"]) == (
        "pre-screening", None)


def _upload_through_the_form(editor, name: str) -> str:
    """examples/NAME uploaded through the datasets form; its dataset id."""
    with open(EXAMPLES / name, "rb") as handle:
        return str(editor.post("/ui/datasets", files={"file": (name, handle)}
                               ).headers["hx-redirect"].rsplit("/", 1)[1])
