"""The federations page: every federation the server coordinates, where each stands (waiting
for clients, running round k of R, the model it registered, why it failed), refreshed while
one is live; and its form to create one from an uploaded sample table, which shows the client
tokens once (as `trainforge federated create` and ``POST /api/v1/federations`` do)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from trainforge.jobs.federation import describe
from trainforge.server.api.bodies import BoundedBodyRoute
from trainforge.server.api.federations import FederationBody, create_from_body
from trainforge.server.ui.actions import _act, _error, _fragment
from trainforge.server.ui.render import environment, page, signed_in, to_login, workspace_of
from trainforge.store import uploads
from trainforge.store.access import Principal
from trainforge.store.federations import FINISHED, list_federations

router = APIRouter(include_in_schema=False, route_class=BoundedBodyRoute)


@router.get("/federations")
async def federations_page(request: Request) -> Response:
    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    workspace = workspace_of(request)
    records = await run_in_threadpool(list_federations, workspace)
    template = ("federations_rows.html.j2" if request.headers.get("hx-request")
                else "federations.html.j2")
    return page(request, template, viewer, federations=[describe(r) for r in records],
                live=any(r["state"] not in FINISHED for r in records),
                datasets=uploads.list_uploads(workspace, limit=50))


@router.post("/ui/federations")
async def create(request: Request) -> Response:
    """The page's form: the same body and function as ``POST /api/v1/federations``."""
    async def work(who: Principal) -> Response:
        form = await request.form()
        fields = {key: str(value).strip() for key, value in form.items()
                  if key != "csrf_token" and str(value).strip()}
        try:
            body = FederationBody.model_validate(fields)
        except ValidationError as invalid:
            return _error("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                    for e in invalid.errors()))
        created = await run_in_threadpool(create_from_body, request, body, who)
        return _fragment(environment().get_template("federation_created.html.j2")
                         .render(created=created))

    return await _act(request, "editor", "create federations", work)
