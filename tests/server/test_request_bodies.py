"""Every API body is checked in full before anything is queued: finite numbers, booleans that
are not numbers, metrics that fit the task, safe names, models and datasets that exist. A
refusal is a 422 naming the field, never a 500, and never echoes what was sent."""

from __future__ import annotations

import re

import pytest
from tests._paths import EXAMPLES
from tests.server._ui import log_in
from tests.server.conftest import bearer

from trainforge.store import access
from trainforge.store.jobs import list_jobs

CREDIT = EXAMPLES / "credit_g.csv"


@pytest.fixture
def editor(tokens) -> dict[str, str]:
    return bearer(tokens["editor"])


@pytest.fixture
def dataset(client, editor) -> str:
    """credit_g uploaded through the API: its schema and profile are recorded."""
    with open(CREDIT, "rb") as handle:
        answer = client.post("/api/v1/datasets", headers=editor,
                             files={"file": ("credit_g.csv", handle)})
    return str(answer.json()["id"])


def train(client, editor, dataset, **fields):
    return client.post("/api/v1/jobs", headers=editor,
                       json={"kind": "train", "dataset": dataset, "target": "class", **fields})


def raw_post(client, path: str, text: str, headers: dict[str, str]):
    return client.post(path, content=text.encode(),
                       headers={**headers, "Content-Type": "application/json"})


@pytest.mark.parametrize("path,text", [
    ("/api/v1/jobs", '{"kind": "train", "dataset": NaN, "target": "class"}'),
    ("/api/v1/jobs", '{"kind": "train", "dataset": "x", "time_budget": Infinity}'),
    ("/api/v1/jobs", '{"kind": "train", "dataset": "x", "time_budget": -Infinity}'),
    ("/api/v1/jobs", '{"kind": "train", "dataset": "x", "seed": NaN}'),
    ("/api/v1/deployments", '{"model": NaN}'),
    ("/api/v1/tokens", '{"role": "viewer", "name": NaN}'),
    ("/api/v1/models/credit/aliases/production", '{"version": NaN}'),
])
def test_a_nan_or_infinity_literal_in_any_json_body_is_a_422(client, tokens, path, text):
    method = "PUT" if "aliases" in path else "POST"
    answer = client.request(method, path, content=text.encode(), headers={
        **bearer(tokens["admin"]), "Content-Type": "application/json"})
    assert answer.status_code == 422 and answer.json()["detail"]


@pytest.mark.parametrize("text", ["1e999", "-1e999", "NaN", "Infinity"])
def test_a_time_budget_that_is_not_a_finite_number_is_refused_before_queueing(
        client, editor, dataset, workspace, text):
    body = f'{{"kind": "train", "dataset": "{dataset}", "target": "class", "time_budget": {text}}}'
    answer = raw_post(client, "/api/v1/jobs", body, editor)
    assert answer.status_code == 422 and list_jobs(workspace) == []


@pytest.mark.parametrize("field", ["time_budget", "trials", "seed", "test_size"])
def test_a_boolean_is_not_taken_for_a_number(client, editor, dataset, workspace, field):
    answer = train(client, editor, dataset, **{field: True})
    assert answer.status_code == 422 and field in str(answer.json()["detail"])
    assert list_jobs(workspace) == []


def test_a_version_given_as_a_boolean_is_refused(client, tokens):
    answer = client.put("/api/v1/models/credit/aliases/production", json={"version": True},
                        headers=bearer(tokens["editor"]))
    assert answer.status_code == 422 and "version" in str(answer.json()["detail"])


def test_an_unknown_metric_is_refused_naming_the_metrics_that_fit(client, editor, dataset,
                                                                   workspace):
    answer = train(client, editor, dataset, metric="accurracy")
    assert answer.status_code == 422 and "metric" in answer.json()["detail"]
    assert "roc_auc" in answer.json()["detail"] and list_jobs(workspace) == []


def test_a_metric_of_another_task_kind_is_refused(client, editor, dataset, workspace):
    answer = train(client, editor, dataset, metric="r2")  # 'class' is good/bad: binary
    assert answer.status_code == 422 and "binary" in answer.json()["detail"]
    assert list_jobs(workspace) == []


def test_a_metric_that_fits_the_task_is_accepted(client, editor, dataset):
    assert train(client, editor, dataset, metric="f1").status_code == 201


def test_a_target_that_is_not_a_column_of_the_dataset_is_refused(client, editor, dataset,
                                                                  workspace):
    answer = train(client, editor, dataset, target="clas")
    assert answer.status_code == 422 and "'class'" in answer.json()["detail"]
    assert list_jobs(workspace) == []


@pytest.mark.parametrize("name", ["../../etc", "a/b", ".hidden", "x" * 101])
def test_a_model_name_that_is_not_safe_is_refused(client, editor, dataset, workspace, name):
    answer = train(client, editor, dataset, name=name)
    assert answer.status_code == 422 and "name" in str(answer.json()["detail"])
    assert list_jobs(workspace) == []


def test_a_network_to_start_from_that_does_not_exist_is_refused(client, editor, dataset,
                                                                 workspace):
    answer = train(client, editor, dataset, init_from="nope:3")
    assert answer.status_code == 422 and "init_from" in answer.json()["detail"]
    assert list_jobs(workspace) == []


def test_a_predict_job_for_a_model_that_does_not_exist_names_the_field(client, editor, dataset,
                                                                       workspace):
    answer = client.post("/api/v1/jobs", headers=editor,
                         json={"kind": "predict", "model": "nope", "dataset": dataset})
    assert answer.status_code == 422 and answer.json()["detail"].startswith("model: ")
    assert list_jobs(workspace) == []


def test_a_422_does_not_echo_what_was_sent(client, editor):
    secret = "s3cr3t-value-that-must-not-come-back"
    answer = client.post("/api/v1/jobs", headers=editor,
                         json={"kind": "train", "dataset": {"x": secret}, "trials": secret,
                               "seed": [secret], "split": secret})
    assert answer.status_code == 422 and secret not in answer.text
    assert all(set(problem) <= {"loc", "msg", "type"} for problem in answer.json()["detail"])


def test_a_422_lists_a_bounded_number_of_problems(client, editor):
    body = {"kind": "train", "dataset": "x", **{f"unknown_{i}": i for i in range(500)}}
    answer = client.post("/api/v1/jobs", headers=editor, json=body)
    assert answer.status_code == 422 and len(answer.json()["detail"]) <= 20


def test_the_training_form_refuses_a_budget_of_infinity(client, workspace, dataset):
    access.create_user(workspace, username="eve", password="correct horse battery",
                       role="editor")
    log_in(client, "eve", "correct horse battery")
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/").text).group(1)
    answer = client.post("/ui/jobs", data={"dataset": dataset, "target": "class",
                                           "time_budget": "inf"},
                         headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert "time_budget" in answer.text and list_jobs(workspace) == []


@pytest.mark.parametrize("fields", [{"seed": 10**30}, {"seed": -1}, {"trials": 10**30},
                                    {"time_budget": 1e300}])
def test_a_seed_trial_count_or_budget_past_any_real_run_is_refused_before_queueing(
        client, editor, dataset, fields):
    answer = train(client, editor, dataset, **fields)
    assert answer.status_code == 422 and list_jobs_is_empty(client)


@pytest.mark.parametrize("path", ["/api/v1/runs?offset=9223372036854775808",
                                  "/api/v1/datasets?limit=100000000000000000000"])
def test_a_position_past_the_stores_integers_is_a_422_not_a_500(client, tokens, path):
    assert client.get(path, headers=bearer(tokens["viewer"])).status_code == 422


def list_jobs_is_empty(client) -> bool:
    return list_jobs(client.app.state.workspace) == []
