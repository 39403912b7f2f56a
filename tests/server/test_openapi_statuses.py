"""The server's OpenAPI documents the statuses each route really answers."""

from __future__ import annotations

import pytest

PUBLIC = {"/health", "/ready"}


@pytest.fixture
def operations(client) -> list[tuple[str, str, dict]]:
    paths = client.get("/openapi.json").json()["paths"]
    return [(path, method, operation) for path, methods in paths.items()
            for method, operation in methods.items()]


def test_every_route_behind_a_token_documents_401_and_403(operations):
    missing = [f"{method.upper()} {path}" for path, method, operation in operations
               if path not in PUBLIC and not {"401", "403"} <= set(operation["responses"])]
    assert missing == []


def test_every_route_taking_a_body_documents_422(operations):
    missing = [f"{method.upper()} {path}" for path, method, operation in operations
               if "requestBody" in operation and "422" not in operation["responses"]]
    assert missing == []


@pytest.mark.parametrize("method,path,status", [
    ("delete", "/api/v1/models/{name}", "409"),
    ("delete", "/api/v1/models/{name}/versions/{version}", "409"),
    ("delete", "/api/v1/models/{name}", "404"),
    ("get", "/api/v1/jobs/{job_id}", "404"),
    ("get", "/api/v1/runs/{run_id}", "404"),
    ("post", "/api/v1/deployments", "404"),
    ("delete", "/api/v1/deployments/{name}", "404"),
    ("post", "/api/v1/datasets", "413"),
])
def test_a_route_documents_the_statuses_it_answers(client, method, path, status):
    operation = client.get("/openapi.json").json()["paths"][path][method]
    assert status in operation["responses"]
