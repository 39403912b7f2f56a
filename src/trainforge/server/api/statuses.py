"""The statuses the API answers besides success, for ``responses=`` on its routers and
routes, so that ``/openapi.json`` tells a client every answer it may get."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

# the largest offset or log position a query may name: far past any real one, and inside the
# store's 64-bit integers (SQLite raises OverflowError past 2**63 - 1: a 500)
MAX_POSITION = 2**53


class Problem(BaseModel):
    """Every error answer: what was wrong and what to do."""

    detail: str


_MEANING = {
    401: "no valid API token or session",
    403: "the caller's role may not do this (the message names the role needed)",
    404: "what the path names does not exist",
    409: "refused in the current state (the message says what to do first)",
    413: "the body is over the server's size limit",
    422: "the body or a parameter is invalid (the answer names the field, not its value)",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for these statuses; 422's body is FastAPI's list of problems."""
    return {status: ({"description": _MEANING[status]} if status == 422 else
                     {"model": Problem, "description": _MEANING[status]})
            for status in statuses}


SIGNED_IN = documented(401, 403, 422)  # every route behind a token: its router's default
