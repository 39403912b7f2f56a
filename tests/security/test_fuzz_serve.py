"""`trainforge serve`: every route of its own OpenAPI, fuzzed with schemathesis.

Beyond "no 5xx", this app promises that what /docs shows is exactly what it checks: answers are
the documented ones, and what the schema forbids is refused while what it allows is accepted.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from schemathesis import checks
from tests.security._fuzz import (
    DOCUMENTED,
    HEALTHY_WITHIN_S,
    NO_SERVER_ERROR,
    examples,
    fuzz,
    operations,
    seconds_to_answer,
)

pytestmark = pytest.mark.slow  # fuzzing: generated hostile requests against every route

ROUTES = ["GET /health", "GET /metrics", "POST /invocations",
          "POST /v1/models/concrete/predict", "POST /v1/models/credit/predict",
          "POST /v1/models/wine/predict"]
N_REQUESTS = examples(50)  # per route and test: the prediction routes meet the most hostile input


def accepts_what_it_allows(ctx: Any, response: Any, case: Any) -> bool | None:
    """``positive_data_acceptance``, but for a 422 all of whose problems are
    ``value_out_of_range``: values the schema allows (finite, up to ±1.8e308) that overflow
    the model's own arithmetic, which no schema can say (serving.served.scored_outputs)."""
    if response.status_code == 422 and {
            problem["type"] for problem in response.json()["detail"]} == {"value_out_of_range"}:
        return None
    return checks.positive_data_acceptance(ctx, response, case)


# the serving app promises that what /docs shows is exactly what it checks: it must also
# refuse what the schema forbids, and accept what it allows
EXACTLY_DOCUMENTED = (*DOCUMENTED, checks.negative_data_rejection, accepts_what_it_allows)

# /invocations' records must fit the model that ?model= names, which OpenAPI cannot tie to a
# query parameter: its body is documented as any object, so a valid-looking body may be refused
ACCEPTS_ALL_IT_DOCUMENTS = {route: EXACTLY_DOCUMENTED for route in ROUTES} | {
    "POST /invocations": (*DOCUMENTED, checks.negative_data_rejection)}


def test_the_fuzzed_routes_are_every_route_the_openapi_documents(
        serve_schema: schemathesis.BaseSchema) -> None:
    assert operations(serve_schema) == ROUTES


@pytest.mark.parametrize("route", ROUTES)
def test_hostile_requests_get_no_server_error_and_leave_the_app_healthy(
        route: str, serve_app: Any, serve_schema: schemathesis.BaseSchema) -> None:
    fuzz(serve_schema, route, app=serve_app, response_checks=NO_SERVER_ERROR,
         n_requests=N_REQUESTS)
    assert seconds_to_answer(serve_app, "/health") < HEALTHY_WITHIN_S


@pytest.mark.parametrize("route", ROUTES)
def test_every_answer_is_one_the_openapi_documents(
        route: str, serve_app: Any, serve_schema: schemathesis.BaseSchema) -> None:
    fuzz(serve_schema, route, app=serve_app, response_checks=ACCEPTS_ALL_IT_DOCUMENTS[route],
         n_requests=N_REQUESTS)
