"""The deployments page's usage section: what serving each deployment used per day (the
``_usage.html.j2`` fragment, which the page loads after itself)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from trainforge.server.ui.render import page, signed_in, to_login
from trainforge.store.usage import first_day, usage_by_day

router = APIRouter(include_in_schema=False)
SHOWN_DAYS = 7


@router.get("/deployments/usage")  # sync: its store query runs in the thread pool
def usage_section(request: Request) -> Response:
    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    usage = usage_by_day(request.app.state.workspace, since=first_day(SHOWN_DAYS))
    return page(request, "_usage.html.j2", viewer, usage=list(reversed(usage)),
                days=SHOWN_DAYS, rate=request.app.state.config.cost_rate)
