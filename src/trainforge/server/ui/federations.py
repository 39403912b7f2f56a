"""The federations page: every federation the server coordinates, where each stands (waiting
for clients, running round k of R, the model it registered, why it failed), refreshed while
one is live. Federations are created with `trainforge federated create` or
``POST /api/v1/federations``, which print the client tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from trainforge.jobs.federation import describe
from trainforge.server.api.bodies import BoundedBodyRoute
from trainforge.server.ui.render import page, signed_in, to_login, workspace_of
from trainforge.store.federations import FINISHED, list_federations

router = APIRouter(include_in_schema=False, route_class=BoundedBodyRoute)


@router.get("/federations")
async def federations_page(request: Request) -> Response:
    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    records = await run_in_threadpool(list_federations, workspace_of(request))
    template = ("federations_rows.html.j2" if request.headers.get("hx-request")
                else "federations.html.j2")
    return page(request, template, viewer, federations=[describe(r) for r in records],
                live=any(r["state"] not in FINISHED for r in records))
