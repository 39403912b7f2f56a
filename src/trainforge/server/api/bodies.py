"""How the server reads a request body: bounded in size before it is parsed, strict JSON,
numbers that are numbers, and 422s that name the field without sending back what was sent.

FastAPI reads a JSON or form body whole before the route (and so before the token check) runs:
one unauthenticated POST could fill the server's memory. ``BoundedBodyRoute`` caps every API and
web-form route's body at ``MAX_BODY_BYTES`` with FastAPI's own ``max_body_size`` (uploads stream
to disk under their own, larger limits: ``streamed_upload``).

Starlette parses JSON with ``json.loads``, which takes ``NaN``, ``Infinity`` and ``1e999``
(infinity) as numbers; an infinite budget then passes ``gt=0``, and a NaN echoed in a 422 body
cannot be written as JSON (a 500). Every router of the API is made with ``route_class=
BoundedBodyRoute``, which parses with orjson: none of those is JSON there, so each is a 422.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BeforeValidator, Field

MAX_BODY_BYTES = 1 << 20  # the largest JSON or form body a route reads: ~1,000× a train job's
# for ``max_body_size=`` on an upload route, which streams its body to disk under its own limit
STREAMS_ITS_BODY = 2**62


class StrictJsonRequest(Request):
    """A request whose ``json()`` is orjson's: standard JSON only, no NaN or Infinity."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())  # orjson.JSONDecodeError: a 422
        return self._json


class BoundedBodyRoute(APIRoute):
    """A route whose body is at most ``MAX_BODY_BYTES`` (unless the route says otherwise) and
    whose JSON is strict (``StrictJsonRequest``): every API and web-form route."""

    def __init__(self, path: str, endpoint: Callable[..., Any], *,
                 max_body_size: int | None = None, **options: Any) -> None:
        # FastAPI's own limit: past it the body is not read on, and the answer is a 413
        super().__init__(path, endpoint, max_body_size=max_body_size or MAX_BODY_BYTES,
                         **options)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict


def _not_a_bool(value: Any) -> Any:
    # pydantic's lax mode reads true as 1 and 1.0: a body saying `"trials": true` is a mistake
    if isinstance(value, bool):  # a ValueError, which pydantic turns into a 422's problem
        raise ValueError("a number is needed, not true or false")  # noqa: TRY004
    return value


Number = Annotated[float, BeforeValidator(_not_a_bool), Field(allow_inf_nan=False)]
WholeNumber = Annotated[int, BeforeValidator(_not_a_bool)]
