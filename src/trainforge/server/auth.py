"""Who is asking, and may they: the server's FastAPI dependencies for access control.

A request is authenticated by ``Authorization: Bearer <token>`` (scripts, the CLI) or by the
session cookie the web UI's login sets. Without either, every API call is a 401; with a role
too low for the action, a 403 that says which role is needed.

A cookie-authenticated request that changes something (POST, PUT, PATCH, DELETE) must also
carry the session's CSRF token, in the ``X-CSRF-Token`` header (htmx sends it) or a
``csrf_token`` form field: another site can make a browser send the cookie, not the token.
A route that streams a multipart upload (``form_streamed``) checks the form field itself as it
parses the body (``streamed_upload``), so the upload is never read whole before its size limit.

Token lookups are cached for a few seconds per process, so a busy prediction endpoint does
not query the store on every request; a revoked token, or one whose creator was disabled, stops
working within that time. Sessions are rows in the store, read on every request: a session
ended by logout, a password change or a disabled user is refused at once. What does query the
store (a token not in the cache, a session) runs on a worker thread: a database busy with a
write must not stall the event loop.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from trainforge.errors import CsrfRejected, NotAllowed, NotAuthenticated
from trainforge.store import access
from trainforge.store.access import Principal
from trainforge.workspace import Workspace

SESSION_COOKIE = "trainforge_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
TOKEN_CACHE_S = 5.0  # how long a checked token is trusted without asking the store again
TOUCH_EVERY_S = 60.0  # how often a token's last_used_at is written
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class TokenCache:
    """Recently checked tokens → principal (or None for a bad token), per process."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._lock = threading.Lock()
        self._checked: dict[str, tuple[float, Principal | None]] = {}
        self._touched: dict[str, float] = {}

    def cached(self, token: str) -> tuple[bool, Principal | None]:
        """``(True, principal or None)`` for a token checked in the last few seconds, else
        ``(False, None)``: ``principal(token)`` must ask the store."""
        with self._lock:
            cached = self._checked.get(token)
        if cached is not None and time.monotonic() - cached[0] < TOKEN_CACHE_S:
            return True, cached[1]
        return False, None

    def principal(self, token: str) -> Principal | None:
        known, principal = self.cached(token)
        if known:
            return principal
        now = time.monotonic()
        found = access.principal_for_token(self.workspace, token)
        with self._lock:
            if len(self._checked) > 10_000:  # made-up tokens must not grow it without bound
                self._checked.clear()
            self._checked[token] = (now, found)
            touch = found is not None and now - self._touched.get(token, -1e9) > TOUCH_EVERY_S
            if touch:
                self._touched[token] = now
        if touch:
            access.touch_token(self.workspace, token)
        return found

    def forget(self) -> None:
        """Check every token against the store again (after one is revoked here)."""
        with self._lock:
            self._checked.clear()


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def identify(request: Request, *, form_streamed: bool = False) -> Principal:
    """The principal of ``request`` (token first, then session cookie); NotAuthenticated
    without one, and a missing CSRF token on a cookie-authenticated change.

    With ``form_streamed``, a token not in the header is left for the route's streamed form
    parser to find in the ``csrf_token`` field (``csrf_expected_in_form``): reading the form
    here would read the whole body first.
    """
    state = request.app.state
    token = bearer_token(request)
    if token is not None:
        tokens: TokenCache = state.tokens
        known, principal = tokens.cached(token)  # the hot path stays on the event loop
        if not known:
            principal = await run_in_threadpool(tokens.principal, token)
        if principal is None:
            raise NotAuthenticated("the API token is unknown or revoked")
        return principal
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        found = await run_in_threadpool(access.session_principal, state.workspace, secret)
        if found is not None:
            principal, csrf = found
            if request.method in _UNSAFE:
                await _check_csrf(request, csrf, form_streamed=form_streamed)
            request.state.csrf_token = csrf
            return principal
    raise NotAuthenticated()


async def _check_csrf(request: Request, expected: str, *, form_streamed: bool) -> None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and form_streamed:
        request.state.csrf_in_form = expected  # request.form() would read the whole upload
        return
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        field = form.get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    if sent is None or not hmac.compare_digest(sent, expected):
        raise CsrfRejected(f"{request.method} {request.url.path}")


def csrf_expected_in_form(request: Request) -> str | None:
    """The session's CSRF token the streamed form must carry before its file; None when the
    request was already checked (a header, or a bearer token)."""
    expected: str | None = getattr(request.state, "csrf_in_form", None)
    return expected


def require(role: str, action: str, *, form_streamed: bool = False
            ) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency: the request's principal, which must hold ``role`` to do ``action``;
    ``form_streamed`` as for ``identify``.

    Example::

        @router.post("/jobs")
        async def submit(job: JobRequest,
                         who: Annotated[Principal, Depends(require("editor", "submit jobs"))]): ...
    """

    async def dependency(request: Request) -> Principal:
        principal = await identify(request, form_streamed=form_streamed)
        if not principal.may(role):
            raise NotAllowed(principal.role, role, action)
        request.state.principal = principal
        return principal

    return dependency


def state_of(request: Request) -> Any:
    """The app's shared state: ``workspace``, ``config``, ``tokens`` and what routers add."""
    return request.app.state
