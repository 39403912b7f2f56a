"""The store is the truth about deployments: every server process over one workspace serves
what it records within a second, and a model that is deployed is not deleted by accident."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.server._jobs import running_app, wait_for
from tests.server.conftest import bearer, credit_records

from trainforge.cli.app import run
from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app
from trainforge.workspace import Workspace

pytestmark = pytest.mark.slow  # each test starts two live servers

WITHIN_S = 1.5  # the poll is every 0.5 s; a loaded CI machine gets some slack
# a deploy also loads the package (every file hash-checked) in B: seconds on a busy machine
LOADED_WITHIN_S = 5.0


@pytest.fixture(scope="module")
def records() -> list[dict[str, object]]:
    return credit_records(1)


@pytest.fixture
def two_servers(trained) -> Iterator[tuple[str, str]]:
    """Two server processes' worth of apps (each its own workspace object, engine and
    router) over one SQLite workspace, each served by uvicorn on its own port."""
    first = create_server_app(Workspace(trained.home), ServerConfig())
    second = create_server_app(Workspace(trained.home), ServerConfig())
    with running_app(first) as url_a, running_app(second) as url_b:
        yield url_a, url_b


def predict_status(url: str, token: str, records: list) -> int:
    return httpx.post(f"{url}/v1/models/credit/predict", json={"records": records},
                      headers=bearer(token), timeout=10).status_code


def test_a_deploy_through_one_server_is_served_by_another_within_a_second(
        two_servers, trained_tokens, records):
    url_a, url_b = two_servers
    deployed = httpx.post(f"{url_a}/api/v1/deployments", json={"model": "credit"},
                          headers=bearer(trained_tokens["editor"]), timeout=30)
    assert deployed.status_code == 201
    wait_for(lambda: predict_status(url_b, trained_tokens["viewer"], records) == 200,
             timeout_s=LOADED_WITHIN_S, what="server B to serve credit", every_s=0.05)


def test_an_undeploy_through_one_server_stops_another_within_a_second(
        two_servers, trained_tokens, records):
    url_a, url_b = two_servers
    httpx.post(f"{url_a}/api/v1/deployments", json={"model": "credit"},
               headers=bearer(trained_tokens["editor"]), timeout=30)
    wait_for(lambda: predict_status(url_b, trained_tokens["viewer"], records) == 200,
             timeout_s=LOADED_WITHIN_S, what="server B to serve credit", every_s=0.05)
    httpx.delete(f"{url_a}/api/v1/deployments/credit", headers=bearer(trained_tokens["editor"]))
    wait_for(lambda: predict_status(url_b, trained_tokens["viewer"], records) == 404,
             timeout_s=WITHIN_S, what="server B to stop serving credit", every_s=0.05)


def test_a_model_deleted_by_force_through_one_server_stops_answering_on_another(
        two_servers, trained_tokens, records):
    url_a, url_b = two_servers
    httpx.post(f"{url_a}/api/v1/deployments", json={"model": "credit"},
               headers=bearer(trained_tokens["editor"]), timeout=30)
    wait_for(lambda: predict_status(url_b, trained_tokens["viewer"], records) == 200,
             timeout_s=LOADED_WITHIN_S, what="server B to serve credit", every_s=0.05)
    deleted = httpx.delete(f"{url_a}/api/v1/models/credit", params={"force": "true"},
                           headers=bearer(trained_tokens["admin"]))
    assert deleted.status_code == 200
    wait_for(lambda: predict_status(url_b, trained_tokens["viewer"], records) == 404,
             timeout_s=WITHIN_S, what="server B to stop serving the deleted model",
             every_s=0.05)


def deploy(client, token: str, model: str, name: str | None = None) -> None:
    body = {"model": model} if name is None else {"model": model, "name": name}
    assert client.post("/api/v1/deployments", json=body, headers=bearer(token)).status_code == 201


def test_deleting_a_deployed_model_is_a_409_naming_the_deployment(trained_client,
                                                                 trained_tokens):
    deploy(trained_client, trained_tokens["editor"], "credit:2", "risk")
    answer = trained_client.delete("/api/v1/models/credit",
                                   headers=bearer(trained_tokens["admin"]))
    assert answer.status_code == 409 and "'risk'" in answer.json()["detail"]
    assert trained_client.get("/api/v1/models/credit",
                              headers=bearer(trained_tokens["viewer"])).status_code == 200


def test_deleting_a_deployed_version_is_a_409_but_another_version_may_go(trained_client,
                                                                        trained_tokens):
    deploy(trained_client, trained_tokens["editor"], "credit:2")
    admin = bearer(trained_tokens["admin"])
    assert trained_client.delete("/api/v1/models/credit/versions/2",
                                 headers=admin).status_code == 409
    assert trained_client.delete("/api/v1/models/credit/versions/1",
                                 headers=admin).json()["deleted_versions"] == [1]


def test_forcing_the_deletion_undeploys_the_model_first(trained_client, trained_tokens, records):
    deploy(trained_client, trained_tokens["editor"], "credit")
    answer = trained_client.delete("/api/v1/models/credit", params={"force": "true"},
                                   headers=bearer(trained_tokens["admin"]))
    assert answer.status_code == 200 and answer.json()["deleted_versions"] == [1, 2]
    assert trained_client.post("/v1/models/credit/predict", json={"records": records},
                               headers=bearer(trained_tokens["viewer"])).status_code == 404
    assert trained_client.get("/api/v1/deployments",
                              headers=bearer(trained_tokens["viewer"])).json() == []


def test_the_cli_refuses_to_delete_a_deployed_model_without_force(trained, trained_client,
                                                                  trained_tokens, monkeypatch,
                                                                  capsys):
    deploy(trained_client, trained_tokens["editor"], "credit")
    monkeypatch.setenv("TRAINFORGE_HOME", str(trained.home))
    code = run(["models", "delete", "credit", "--yes"])
    assert code != 0 and "'credit'" in capsys.readouterr().err
    assert trained.registry.resolve("credit") == ("credit", 2)


def test_the_cli_deletes_a_deployed_model_with_force(trained, trained_client, trained_tokens,
                                                     monkeypatch):
    deploy(trained_client, trained_tokens["editor"], "credit")
    monkeypatch.setenv("TRAINFORGE_HOME", str(trained.home))
    assert run(["models", "delete", "credit", "--yes", "--force"]) == 0
    assert trained_client.get("/api/v1/deployments",
                              headers=bearer(trained_tokens["viewer"])).json() == []
