"""The fuzz harness: schemathesis requests, generated from an app's own OpenAPI, sent in process.

Each call fuzzes ONE documented operation with a bounded number of requests, half of them
valid for the schema and half not (schemathesis' positive and negative modes), derandomized so
a run is reproducible, and stopping early at a wall-clock budget so a slow route cannot stall
``make test``. A response is checked for what the issue asks of every route: no 5xx, no
answer over ``MAX_RESPONSE_BYTES``, and (for the conformance tests) only status codes, content
types and bodies the route's OpenAPI documents.

The same code gets the same requests on any machine; a change to a route's schema, to the
string constants schemathesis gathers from the app's source, or to ``one_request`` below draws
other requests, which can find a failure sooner or later than before.

Requests go to the ASGI app in process (no socket): an exception that escapes the app
propagates to the test, and it is what uvicorn would answer with a 500.

An operation's requests are drawn once per process and each test sends its own copies: the
draw is derandomized and does not depend on the answers, so every role's test and the
conformance test of an operation would draw the very same requests again, and drawing them
(hypothesis and schemathesis building each body) costs more CPU than most answers.

``TRAINFORGE_FUZZ_EXAMPLES=200 pytest tests/security`` sends 200 requests per operation instead
of each test file's default: a deeper fuzz than ``make test`` has time for.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks

Check = Callable[..., bool | None]

MAX_RESPONSE_BYTES = 1024 * 1024  # the largest answer a fuzzed request may get
# stop sending an operation's requests after this long, whatever is left: a runaway guard only
# (a route takes 0.1 to 4 s here), since a cut-short run could miss a known failure
WALL_S = 30.0
HEALTHY_WITHIN_S = 2.0  # 2 shared cores: generous, yet far below a wedged app

NO_SERVER_ERROR: tuple[Check, ...] = (checks.not_a_server_error,)
DOCUMENTED: tuple[Check, ...] = (checks.status_code_conformance,
                                 checks.content_type_conformance,
                                 checks.response_schema_conformance)


def examples(default: int) -> int:
    """Requests per operation: ``default``, unless TRAINFORGE_FUZZ_EXAMPLES says otherwise."""
    return int(os.environ.get("TRAINFORGE_FUZZ_EXAMPLES", default))


def operations(schema: schemathesis.BaseSchema) -> list[str]:
    """Every operation the schema documents, as ``METHOD /path`` labels."""
    return sorted(result.ok().label for result in schema.get_all_operations())


def fuzz(schema: schemathesis.BaseSchema, label: str, *, app: Any,
         response_checks: Sequence[Check], n_requests: int,
         headers: Mapping[str, str] | None = None, aim: Mapping[str, str] | None = None,
         wall_s: float = WALL_S) -> None:
    """Send up to ``n_requests`` generated requests for ``label`` to ``app``; the first response
    that fails a check (or exceeds the size bound) fails the calling test, with a curl line
    that reproduces it.

    ``aim`` holds path parameters at real values (``{"name": "credit"}``) in about half the
    requests: a made-up name stops at the 404, a real one takes the rest of the request
    deeper into the route.
    """
    stop_at = time.monotonic() + wall_s
    sent_headers = dict(headers or {})
    for drawn in drawn_requests(schema, label, n_requests=n_requests, aim=aim):
        if time.monotonic() > stop_at:
            return
        case = drawn.derive()  # a copy: sending marks a case, and other tests send this one too
        response = case.call(app=app, headers=sent_headers)
        assert len(response.content) <= MAX_RESPONSE_BYTES, (
            f"{label} answered {len(response.content)} bytes, over the "
            f"{MAX_RESPONSE_BYTES}-byte bound\n{case.as_curl_command(headers=sent_headers)}")
        case.validate_response(response, checks=list(response_checks), headers=sent_headers)


# (id of the schema, label, n_requests, aimed parameters) → the schema, kept alive so that
# its id is not reused, and the requests drawn for that operation
_DRAWN: dict[tuple[int, str, int, tuple[tuple[str, str], ...]],
             tuple[schemathesis.BaseSchema, list[schemathesis.Case]]] = {}


def drawn_requests(schema: schemathesis.BaseSchema, label: str, *, n_requests: int,
                   aim: Mapping[str, str] | None = None) -> list[schemathesis.Case]:
    """The ``n_requests`` requests drawn for ``label``, half valid for the schema and half not,
    drawn on the first call for these arguments and kept for the process."""
    operation = schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the schema"
    in_path = set(re.findall(r"{(\w+)}", operation.path))
    held = {key: value for key, value in (aim or {}).items() if key in in_path}
    key = (id(schema), label, n_requests, tuple(sorted(held.items())))
    if key not in _DRAWN:
        aims = [None, held] if held else [None]
        cases = st.one_of([operation.as_strategy(mode, path_parameters=path)
                           for path in aims
                           for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)])
        drawn: list[schemathesis.Case] = []

        # no shrinking (nothing fails here); no example database: the same code gets the
        # same requests, on any machine
        @settings(max_examples=n_requests, deadline=None, derandomize=True, database=None,
                  phases=(Phase.explicit, Phase.generate), report_multiple_bugs=False,
                  suppress_health_check=list(HealthCheck))
        @given(case=cases)
        def one_request(case: schemathesis.Case) -> None:
            drawn.append(case)

        one_request()
        _DRAWN[key] = (schema, drawn)
    return _DRAWN[key][1]


def seconds_to_answer(app: Any, path: str, *, headers: Mapping[str, str] | None = None,
                      expect_status: int = 200) -> float:
    """How long ``GET path`` took to answer ``expect_status`` (the app is still healthy)."""
    from schemathesis.python import asgi

    started = time.perf_counter()
    with asgi.get_client(app) as client:
        status = client.get(path, headers=dict(headers or {}), timeout=HEALTHY_WITHIN_S).status_code
    assert status == expect_status, f"GET {path} answered {status} after fuzzing"
    return time.perf_counter() - started
