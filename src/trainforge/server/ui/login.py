"""Logging in and out of the web UI.

The login form has no session yet to take a CSRF token from, so it uses a double-submit
cookie: GET sets a random ``trainforge_login`` cookie and puts the same value in the form; a
POST whose field and cookie differ (a form posted from another site) is refused. A successful
login sets the session cookie: HttpOnly (scripts cannot read it), SameSite=Lax, and Secure when
the page came over HTTPS.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trainforge.server.auth import SESSION_COOKIE
from trainforge.server.ui.render import page, signed_in
from trainforge.store import access

LOGIN_COOKIE = "trainforge_login"
router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    # only a path on this server: "//evil.example" or "https://…" would send the user away
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def _login_form(request: Request, *, error: str = "", status: int = 200,
                next_page: str = "/") -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    answer = page(request, "login.html.j2", None, status=status, login_token=token,
                  error=error, next_page=_safe_next(next_page))
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
    workspace = request.app.state.workspace
    principal = access.authenticate(workspace, username, password)
    if principal is None:
        return _login_form(request, status=401, next_page=next,
                           error="Wrong user name or password.")
    secret, _ = access.create_session(workspace, principal.name)
    answer = RedirectResponse(_safe_next(next), status_code=303)
    answer.set_cookie(SESSION_COOKIE, secret, httponly=True, samesite="lax",
                      secure=request.url.scheme == "https",
                      max_age=access.SESSION_DAYS * 86_400)
    answer.delete_cookie(LOGIN_COOKIE)
    return answer


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
