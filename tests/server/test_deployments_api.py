"""Deployments: a registered version answers at /v1/models/{name}/predict on the platform, in
`trainforge serve`'s format, is replaced and removed without a restart, and survives one."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.server.conftest import bearer, credit_records

from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app
from trainforge.serving.app import create_app


@pytest.fixture(scope="module")
def records() -> list[dict[str, object]]:
    return credit_records(5)


def deploy(client: TestClient, token: str, model: str, name: str | None = None):
    return client.post("/api/v1/deployments", headers=bearer(token),
                       json={"model": model} if name is None else {"model": model, "name": name})


def predict(client: TestClient, token: str, name: str, records: list) -> object:
    return client.post(f"/v1/models/{name}/predict", headers=bearer(token),
                       json={"records": records})


def test_a_deployed_model_answers_exactly_as_trainforge_serve_does(trained_client, trained_tokens,
                                                                   trained, records):
    deployed = deploy(trained_client, trained_tokens["editor"], "credit:1")
    assert deployed.status_code == 201 and deployed.json()["url"] == "/v1/models/credit/predict"
    served = TestClient(create_app({"credit": trained.registry.load("credit:1")}))
    expected = served.post("/v1/models/credit/predict", json={"records": records})
    answer = predict(trained_client, trained_tokens["viewer"], "credit", records)
    assert answer.status_code == expected.status_code == 200
    # each answer has its own request id; the rest is the same
    assert answer.json().keys() == expected.json().keys()
    assert ({**answer.json(), "request_id": ""} == {**expected.json(), "request_id": ""}
            and answer.json()["model"] == "credit:1")


def test_a_bad_request_is_refused_in_trainforge_serves_words(trained_client, trained_tokens,
                                                             trained):
    deploy(trained_client, trained_tokens["editor"], "credit")
    served = TestClient(create_app({"credit": trained.registry.load("credit")}))
    bad = {"records": [{"age": "old"}]}
    expected = served.post("/v1/models/credit/predict", json=bad)
    answer = trained_client.post("/v1/models/credit/predict", json=bad,
                                 headers=bearer(trained_tokens["viewer"]))
    assert (answer.status_code, answer.json()) == (expected.status_code, expected.json())


def test_deploying_a_new_version_replaces_the_old_without_a_restart(trained_client,
                                                                    trained_tokens, records):
    editor, viewer = trained_tokens["editor"], trained_tokens["viewer"]
    deploy(trained_client, editor, "credit:1")
    assert predict(trained_client, viewer, "credit", records).json()["model"] == "credit:1"
    deploy(trained_client, editor, "credit:2")
    assert predict(trained_client, viewer, "credit", records).json()["model"] == "credit:2"


def test_an_alias_is_deployed_as_the_version_it_points_at_under_a_name_given(
        trained_client, trained_tokens, trained, records):
    trained.registry.alias("credit", 1, "production")
    body = deploy(trained_client, trained_tokens["editor"], "credit@production", "risk").json()
    assert (body["name"], body["ref"], body["requested"]) == ("risk", "credit:1",
                                                              "credit@production")
    assert predict(trained_client, trained_tokens["viewer"], "risk", records).status_code == 200


def test_an_undeployed_model_answers_404_naming_what_is_served(trained_client, trained_tokens,
                                                               records):
    deploy(trained_client, trained_tokens["editor"], "credit")
    gone = trained_client.delete("/api/v1/deployments/credit",
                                 headers=bearer(trained_tokens["editor"]))
    assert gone.status_code == 200
    answer = predict(trained_client, trained_tokens["viewer"], "credit", records)
    assert answer.status_code == 404 and "serving: none" in answer.json()["detail"]
    assert trained_client.get("/api/v1/deployments",
                              headers=bearer(trained_tokens["viewer"])).json() == []


def test_deployments_are_served_again_by_a_new_app_over_the_same_workspace(
        trained_client, trained_tokens, trained, records):
    deploy(trained_client, trained_tokens["editor"], "credit:2")
    restarted = TestClient(create_server_app(trained, ServerConfig()))
    answer = predict(restarted, trained_tokens["viewer"], "credit", records)
    assert answer.status_code == 200 and answer.json()["model"] == "credit:2"
    listed = restarted.get("/api/v1/deployments", headers=bearer(trained_tokens["viewer"])).json()
    assert [(d["name"], d["ref"], d["live"]) for d in listed] == [("credit", "credit:2", True)]


def test_deploying_a_model_that_does_not_exist_is_a_404(trained_client, trained_tokens):
    answer = deploy(trained_client, trained_tokens["editor"], "credit:7")
    assert answer.status_code == 404 and "no model 'credit:7'" in answer.json()["detail"]


def test_undeploying_what_is_not_deployed_is_a_404(trained_client, trained_tokens):
    answer = trained_client.delete("/api/v1/deployments/credit",
                                   headers=bearer(trained_tokens["editor"]))
    assert answer.status_code == 404


@pytest.mark.slow
def test_a_prediction_without_a_token_is_a_401(trained_client, trained_tokens, records):
    deploy(trained_client, trained_tokens["editor"], "credit")
    answer = trained_client.post("/v1/models/credit/predict", json={"records": records})
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("method,path,body", [
    ("POST", "/api/v1/deployments", {"model": "credit"}),
    ("DELETE", "/api/v1/deployments/credit", None),
])
def test_a_viewer_may_not_deploy_or_undeploy(trained_client, trained_tokens, method, path, body):
    answer = trained_client.request(method, path, json=body,
                                    headers=bearer(trained_tokens["viewer"]))
    assert answer.status_code == 403


def test_listing_deployments_needs_a_token(trained_client):
    assert trained_client.get("/api/v1/deployments").status_code == 401


def test_the_prediction_route_is_documented_in_openapi(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "post" in paths["/v1/models/{name}/predict"]
    assert all(operation.get("summary") for route, methods in paths.items()
               for operation in methods.values())


def test_a_deployed_model_refuses_more_records_than_the_servers_limit(trained, trained_tokens,
                                                                      records):
    client = TestClient(create_server_app(trained, ServerConfig(max_records=2)))
    deploy(client, trained_tokens["editor"], "credit")
    answer = predict(client, trained_tokens["viewer"], "credit", records[:3])
    assert answer.status_code == 413 and "at most 2 records" in answer.json()["detail"]
