"""The platform server (`trainforge server`): every route of its own OpenAPI, fuzzed with
schemathesis under each role's token.

Every role fuzzes every route for server errors; the conformance test runs as a viewer (the
401s and 403s) and as an admin (every route past its access check). The routes that can
delete what the other tests use get an app over their own copy of the workspace, so that a
fuzzed DELETE that happens to name the deployed model breaks nothing else; the rest share one.
A federation's routes are fuzzed with its client token too (the join's body among them).
Jobs only queue (no worker runs here), so fuzzing POST /api/v1/jobs trains nothing.

Not fuzzed: the web UI (login, pages, form actions), which FastAPI leaves out of the OpenAPI,
and the body of POST /api/v1/datasets, a multipart upload the OpenAPI does not describe.

Also checked as a whole: each route documents every status and content type it answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from tests.security._fuzz import (
    DOCUMENTED,
    HEALTHY_WITHIN_S,
    NO_SERVER_ERROR,
    examples,
    fuzz,
    operations,
    seconds_to_answer,
)
from tests.security.conftest import ROLES, FuzzHome

pytestmark = pytest.mark.slow  # fuzzing: generated hostile requests against every route

N_REQUESTS = examples(10)  # per route, role and test: ~150 tests must keep `make test` quick
CONFORMANCE_ROLES = ("viewer", "admin")
# routes that change what is served or stored: each runs on its own copy of the workspace
DELETING = {"DELETE /api/v1/deployments/{name}", "DELETE /api/v1/models/{name}",
            "DELETE /api/v1/deployments/{name}/promotion-rule",
            "POST /api/v1/deployments/{name}/promote", "POST /api/v1/deployments/{name}/rollback",
            "PUT /api/v1/deployments/{name}/promotion-rule",
            "PUT /api/v1/deployments/{name}/shadow", "PUT /api/v1/models/{name}/retrain-policy",
            "POST /api/v1/models/{name}/retrain", "POST /api/v1/models/{name}/update",
            "DELETE /api/v1/models/{name}/versions/{version}", "DELETE /api/v1/tokens/{token_id}",
            "PATCH /api/v1/models/{name}/versions/{version}/card"}
ROUTES = [
    "DELETE /api/v1/deployments/{name}",
    "DELETE /api/v1/deployments/{name}/promotion-rule",
    "DELETE /api/v1/models/{name}",
    "DELETE /api/v1/models/{name}/aliases/{alias}",
    "DELETE /api/v1/models/{name}/versions/{version}",
    "DELETE /api/v1/tokens/{token_id}",
    "GET /api/v1/datasets",
    "GET /api/v1/datasets/{upload_id}",
    "GET /api/v1/datasets/{upload_id}/profile",
    "GET /api/v1/deployments",
    "GET /api/v1/deployments/{name}/comparison",
    "GET /api/v1/deployments/{name}/history",
    "GET /api/v1/deployments/{name}/monitoring",
    "GET /api/v1/deployments/{name}/usage",
    "GET /api/v1/federations",
    "GET /api/v1/federations/{name}",
    "GET /api/v1/jobs",
    "GET /api/v1/jobs/{job_id}",
    "GET /api/v1/jobs/{job_id}/logs",
    "GET /api/v1/jobs/{job_id}/metrics",
    "GET /api/v1/jobs/{job_id}/output",
    "GET /api/v1/labeling/projects",
    "GET /api/v1/labeling/projects/{name}",
    "GET /api/v1/labeling/projects/{name}/disagreements",
    "GET /api/v1/labeling/projects/{name}/items/{item}",
    "GET /api/v1/labeling/projects/{name}/items/{item}/image",
    "GET /api/v1/labeling/projects/{name}/next",
    "GET /api/v1/me",
    "GET /api/v1/models",
    "GET /api/v1/models/{name}",
    "GET /api/v1/models/{name}/retrain-policy",
    "GET /api/v1/models/{name}/versions/{version}",
    "GET /api/v1/models/{name}/versions/{version}/card",
    "GET /api/v1/models/{name}/versions/{version}/fairness",
    "GET /api/v1/models/{name}/versions/{version}/report",
    "GET /api/v1/runs",
    "GET /api/v1/runs/compare",
    "GET /api/v1/runs/{run_id}",
    "GET /api/v1/runs/{run_id}/metrics",
    "GET /api/v1/tokens",
    "GET /api/v1/usage",
    "GET /health",
    "GET /metrics",
    "GET /ready",
    "PATCH /api/v1/models/{name}/versions/{version}/card",
    "POST /api/v1/datasets",
    "POST /api/v1/deployments",
    "POST /api/v1/deployments/{name}/promote",
    "POST /api/v1/deployments/{name}/rollback",
    "POST /api/v1/federations",
    "POST /api/v1/federations/{name}/join",
    "POST /api/v1/federations/{name}/tokens",
    "POST /api/v1/jobs",
    "POST /api/v1/jobs/{job_id}/cancel",
    "POST /api/v1/labeling/projects",
    "POST /api/v1/labeling/projects/{name}/export",
    "POST /api/v1/labeling/projects/{name}/import",
    "POST /api/v1/labeling/projects/{name}/items/{item}/label",
    "POST /api/v1/labeling/projects/{name}/items/{item}/settle",
    "POST /api/v1/labeling/projects/{name}/items/{item}/skip",
    "POST /api/v1/labeling/projects/{name}/undo",
    "POST /api/v1/models/{name}/retrain",
    "POST /api/v1/models/{name}/update",
    "POST /api/v1/tokens",
    "POST /v1/models/{name}/feedback",
    "POST /v1/models/{name}/predict",
    "PUT /api/v1/deployments/{name}/promotion-rule",
    "PUT /api/v1/deployments/{name}/shadow",
    "PUT /api/v1/models/{name}/aliases/{alias}",
    "PUT /api/v1/models/{name}/retrain-policy",
]

# a federation's client token: 403 on every route but its federation's, which it joins
CLIENT_ROUTES = [route for route in ROUTES if "/federations/" in route]
CASES = [(route, role) for route in ROUTES for role in ROLES] + [
    (route, "client") for route in CLIENT_ROUTES]
CONFORMANCE_CASES = [(route, role) for route in ROUTES for role in CONFORMANCE_ROLES]


def _app_for(route: str, shared_server: Any, own_server: Callable[[], Any]) -> Any:
    return own_server() if route in DELETING else shared_server


def test_the_fuzzed_routes_are_every_route_the_openapi_documents(
        server_schema: schemathesis.BaseSchema) -> None:
    assert operations(server_schema) == ROUTES


@pytest.mark.parametrize(("route", "role"), CASES)
def test_hostile_requests_get_no_server_error_and_leave_the_server_healthy(
        route: str, role: str, fuzz_home: FuzzHome, server_schema: schemathesis.BaseSchema,
        shared_server: Any, own_server: Callable[[], Any]) -> None:
    app = _app_for(route, shared_server, own_server)
    fuzz(server_schema, route, app=app, response_checks=NO_SERVER_ERROR,
         n_requests=N_REQUESTS, headers=fuzz_home.bearer(role), aim=fuzz_home.aim)
    # listing the models reads the store and the registry: more than /health would
    assert seconds_to_answer(app, "/api/v1/models",
                             headers=fuzz_home.bearer("viewer")) < HEALTHY_WITHIN_S
    assert seconds_to_answer(app, "/health") < HEALTHY_WITHIN_S


@pytest.mark.parametrize(("route", "role"), CONFORMANCE_CASES)
def test_every_answer_is_one_the_openapi_documents(
        route: str, role: str, fuzz_home: FuzzHome, server_schema: schemathesis.BaseSchema,
        shared_server: Any, own_server: Callable[[], Any]) -> None:
    fuzz(server_schema, route, app=_app_for(route, shared_server, own_server),
         response_checks=DOCUMENTED, n_requests=N_REQUESTS, headers=fuzz_home.bearer(role),
         aim=fuzz_home.aim)
