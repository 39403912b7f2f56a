"""Logging in and out of the web UI.

The login form has no session yet to take a CSRF token from, so it uses a double-submit
cookie: GET sets a random ``trainforge_login`` cookie and puts the same value in the form; a
POST whose field and cookie differ (a form posted from another site) is refused. A successful
login sets the session cookie: HttpOnly (scripts cannot read it), SameSite=Lax, and Secure when
the page came over HTTPS.

Logins are rate-limited per user name and per client address (``server/login_limits.py``):
over the limit, the form comes back as a 429 with ``Retry-After``. Checking a password (scrypt,
~50 ms of CPU and 16 MiB) runs on a small thread pool of its own, never on the event loop,
so wrong passwords cannot stall the API, nor take the threads other routes run on.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from trainforge.server.api.bodies import BoundedBodyRoute
from trainforge.server.auth import SESSION_COOKIE
from trainforge.server.ui.render import page, signed_in
from trainforge.store import access
from trainforge.store.access import Principal
from trainforge.workspace import Workspace

LOGIN_COOKIE = "trainforge_login"
router = APIRouter(include_in_schema=False, route_class=BoundedBodyRoute)  # bounded bodies
# half the cores at most: logins queue here rather than crowd out training and predictions
_PASSWORD_CHECKS = ThreadPoolExecutor(max_workers=min(4, max(1, (os.cpu_count() or 2) // 2)),
                                      thread_name_prefix="password-check")


def _safe_next(target: str | None) -> str:
    # only a path on this server: "//evil.example" or "https://…" would send the user away
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def _login_form(request: Request, *, error: str = "", status: int = 200,
                next_page: str = "/", retry_after_s: int | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    answer = page(request, "login.html.j2", None, status=status, login_token=token,
                  error=error, next_page=_safe_next(next_page))
    if retry_after_s is not None:
        answer.headers["Retry-After"] = str(retry_after_s)
    answer.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict",
                      secure=request.url.scheme == "https", max_age=3600)
    return answer


@router.get("/login")
async def login_page(request: Request, next: str = "/") -> Response:
    if signed_in(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_form(request, next_page=next)


@router.post("/login")
async def login(request: Request, username: Annotated[str, Form()],
                password: Annotated[str, Form()], login_token: Annotated[str, Form()],
                next: Annotated[str, Form()] = "/") -> Response:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, login_token):
        return _login_form(request, status=403, next_page=next,
                           error="The form expired or came from another site; try again.")
    throttle, address = request.app.state.logins, _address(request)
    wait_s = throttle.admit(username, address)
    if wait_s is not None:
        return _login_form(request, status=429, next_page=next, retry_after_s=wait_s,
                           error=f"Too many failed logins; try again in {wait_s} s.")
    workspace = request.app.state.workspace
    principal = await _check_password(workspace, username, password)
    if principal is None:
        return _login_form(request, status=401, next_page=next,
                           error="Wrong user name or password.")
    throttle.succeeded(username, address)
    secret, _ = await run_in_threadpool(access.create_session, workspace, principal.name)
    answer = RedirectResponse(_safe_next(next), status_code=303)
    answer.set_cookie(SESSION_COOKIE, secret, httponly=True, samesite="lax",
                      secure=request.url.scheme == "https",
                      max_age=access.SESSION_DAYS * 86_400)
    answer.delete_cookie(LOGIN_COOKIE)
    return answer


def _address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


async def _check_password(workspace: Workspace, username: str, password: str
                          ) -> Principal | None:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_PASSWORD_CHECKS, lambda: access.authenticate(
        workspace, username, password))


@router.post("/logout")
async def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
    viewer = signed_in(request)
    secret = request.cookies.get(SESSION_COOKIE)
    if viewer is None or not secret:
        return RedirectResponse("/login", status_code=303)
    if not hmac.compare_digest(csrf_token, viewer.csrf):  # posted from another site
        return RedirectResponse("/", status_code=303)
    access.end_session(request.app.state.workspace, secret)
    answer = RedirectResponse("/login", status_code=303)
    answer.delete_cookie(SESSION_COOKIE)
    return answer
