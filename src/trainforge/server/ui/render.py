"""Rendering a UI page: the Jinja2 environment, the signed-in user, and the redirect to the
login page for a browser without a session."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from trainforge.errors import TrainforgeError
from trainforge.server.auth import SESSION_COOKIE
from trainforge.store import access
from trainforge.store.access import Principal
from trainforge.version import __version__
from trainforge.workspace import Workspace

T = TypeVar("T")
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# pages load only their own scripts and styles (uPlot sets element styles, hence 'unsafe-inline'
# for styles alone), and may not be framed. Set per page, not by a middleware: the prediction
# router shares the app and must not pay for one.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' "
                               "'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def _when(value: Any) -> str:
    if not isinstance(value, dt.datetime):
        return "—" if value is None else str(value)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "—" if value is None else str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "—"
    if isinstance(value, int) or float(value).is_integer() and abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _seconds(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "—"
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["when"] = _when
    env.filters["number"] = _number
    env.filters["seconds"] = _seconds
    return env


class Viewer:
    """Who is looking at a page, and the CSRF token its forms must send back."""

    def __init__(self, principal: Principal, csrf: str) -> None:
        self.principal, self.csrf = principal, csrf

    @property
    def name(self) -> str:
        return self.principal.name

    @property
    def role(self) -> str:
        return self.principal.role

    def may(self, role: str) -> bool:
        return self.principal.may(role)


def signed_in(request: Request) -> Viewer | None:
    """The session's user, or None (no cookie, unknown or expired session)."""
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    found = access.session_principal(request.app.state.workspace, secret)
    return None if found is None else Viewer(*found)


def to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def page(request: Request, template: str, viewer: Viewer | None, *, status: int = 200,
         **context: Any) -> HTMLResponse:
    """A full page (or, for an htmx request of a fragment template, just that fragment)."""
    html = environment().get_template(template).render(
        request=request, viewer=viewer, version=__version__, path=request.url.path,
        **context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def workspace_of(request: Request) -> Workspace:
    """The workspace the app serves."""
    workspace: Workspace = request.app.state.workspace
    return workspace


def missing_page(request: Request, viewer: Viewer, error: TrainforgeError) -> HTMLResponse:
    """The page for something that is not there (or may not be done), with the error's status
    and message."""
    return page(request, "missing.html.j2", viewer, status=error.http_status,
                message=str(error))


async def signed_in_page(request: Request, read: Callable[[Viewer], T],
                         show: Callable[[Viewer, T], Response], *,
                         failed: Callable[[TrainforgeError], Response] | None = None
                         ) -> Response:
    """What a signed-in user asked for: ``read`` off the event loop (it may query the store),
    then ``show`` what it read. A browser without a session goes to the login page; a
    refusal from ``read`` is answered by ``failed``, by default the missing page."""
    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    try:
        found = await run_in_threadpool(read, viewer)
    except TrainforgeError as error:
        return missing_page(request, viewer, error) if failed is None else failed(error)
    return show(viewer, found)
