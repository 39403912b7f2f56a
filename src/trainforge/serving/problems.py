"""The 422 every trainforge app gives a body or query that fails FastAPI's validation: at most
``MAX_PROBLEMS`` problems, each with its place, message and type, never the values sent (they
may be secrets, huge, or NaN that JSON cannot carry). ``trainforge serve`` and the platform
server both register ``invalid_request_answer``."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError

MAX_PROBLEMS = 20  # a body with thousands of wrong fields gets a short answer
MAX_LOC_CHARS = 64  # an unknown field's name is shown, cut here: it is the client's text
_NOT_JSON = ("not valid JSON (NaN, Infinity and numbers beyond ±1.8e308 are not JSON "
             "either); send standard JSON")


def shown(problem: dict[str, Any]) -> dict[str, Any]:
    """The problem's place, message and type; never its ``input`` or ``ctx`` (the client's own
    values, which may be secrets, huge, or NaN that JSON cannot carry)."""
    loc = [part if isinstance(part, int) else str(part)[:MAX_LOC_CHARS]
           for part in problem.get("loc", ())]
    kind = str(problem.get("type", "value_error"))
    message = str(problem.get("msg", "invalid"))
    if kind == "json_invalid":
        message = _NOT_JSON
    elif kind == "union_tag_invalid":  # pydantic's message repeats the tag that was sent
        expected = (problem.get("ctx") or {}).get("expected_tags", "")
        message = f"not one of the kinds this route takes ({expected})"
    return {"loc": loc, "msg": message, "type": kind}


async def invalid_request_answer(request: Request, error: Exception) -> Response:
    """The app's answer to a body or query that fails validation: a 422 listing at most
    ``MAX_PROBLEMS`` problems, each with its place, message and type only."""
    assert isinstance(error, RequestValidationError)  # registered for it only
    problems = [shown(problem) for problem in error.errors()[:MAX_PROBLEMS]]
    return Response(orjson.dumps({"detail": problems}), status_code=422,
                    media_type="application/json")
