"""What /openapi.json documents is what each route answers: statuses and content types."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from trainforge.registry.loaded import LoadedModel
from trainforge.serving.app import create_app


def _documented(client: TestClient, method: str, path: str, status: int) -> set[str]:
    """The content types documented for ``status`` (fails when the status is not)."""
    operation = client.get("/openapi.json").json()["paths"][path][method]
    assert str(status) in operation["responses"], f"{method} {path} {status} undocumented"
    return set(operation["responses"][str(status)].get("content", {}))


def _answered_as_documented(client: TestClient, method: str, path: str, response) -> None:
    media_type = response.headers["content-type"].split(";")[0]
    assert media_type in _documented(client, method, path, response.status_code)


@pytest.fixture
def small_limit(classifier: LoadedModel) -> TestClient:
    return TestClient(create_app({"adult": classifier}, max_records=2),
                      raise_server_exceptions=False)


@pytest.mark.parametrize(("body", "headers"), [
    ({"records": []}, {}),
    ({"records": [{}]}, {}),
    ({"records": [{}, {}, {}]}, {}),
    ("{not json", {"content-type": "application/json"}),
])
def test_the_predict_route_answers_only_what_it_documents(small_limit, body, headers):
    if isinstance(body, str):
        response = small_limit.post("/v1/models/adult/predict", content=body, headers=headers)
    else:
        response = small_limit.post("/v1/models/adult/predict", json=body)
    _answered_as_documented(small_limit, "post", "/v1/models/adult/predict", response)


def test_a_failing_models_500_is_documented(broken_client, one_record):
    response = broken_client.post("/v1/models/broken/predict", json={"records": [one_record]})
    assert response.status_code == 500
    _answered_as_documented(broken_client, "post", "/v1/models/broken/predict", response)


@pytest.mark.parametrize(("url", "content", "content_type"), [
    ("/invocations", '{"dataframe_records": []}', "application/json"),
    ("/invocations", '{"rows": []}', "application/json"),
    ("/invocations", '{"dataframe_records": [{}, {}, {}]}', "application/json"),
    ("/invocations", "age\n39\n", "text/csv"),
    ("/invocations", "age=39", "text/plain"),
    ("/invocations?model=nope", '{"dataframe_records": []}', "application/json"),
])
def test_invocations_answers_only_what_it_documents(small_limit, url, content, content_type):
    response = small_limit.post(url, content=content, headers={"content-type": content_type})
    _answered_as_documented(small_limit, "post", "/invocations", response)


@pytest.mark.parametrize("path", ["/health", "/metrics"])
def test_the_operations_routes_answer_what_they_document(client, path):
    _answered_as_documented(client, "get", path, client.get(path))


def test_the_docs_page_loads_nothing_from_outside_the_server(client):
    page = client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""", page.text)
    assert urls and not [u for u in urls if re.match(r"(https?:)?//", u)]
    for url in urls:
        assert client.get(url).status_code == 200, url
