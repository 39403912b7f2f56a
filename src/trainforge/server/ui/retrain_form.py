"""The model page's retraining panel: its policy as a form, a button to retrain now, and the
latest decisions. The panel loads on its own (``GET /ui/models/{name}/retrain``), so the model
page pays nothing for it; the form and the button call what the REST routes call."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from trainforge.config import RetrainPolicy
from trainforge.errors import ConfigError, RetrainRefused
from trainforge.server.api.bodies import BoundedBodyRoute
from trainforge.server.ui.actions import _act, _go
from trainforge.server.ui.render import page, signed_in, to_login
from trainforge.store.access import Principal

router = APIRouter(include_in_schema=False, route_class=BoundedBodyRoute)
_OPTIONAL = ("drifted_features", "metric_floor", "new_labels", "every",
             "max_cpu_hours_per_day", "trials")
_FIELDS = (*_OPTIONAL, "train_on", "learn", "min_interval", "time_budget")


@router.get("/ui/models/{name}/retrain")
async def retrain_panel(request: Request, name: str) -> Response:
    from trainforge.store import retrain as retrain_store

    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    workspace = request.app.state.workspace
    record = await run_in_threadpool(retrain_store.get_policy, workspace, name)
    events = await run_in_threadpool(retrain_store.list_events, workspace, name)
    policy = record["policy"] if record else RetrainPolicy().model_dump(by_alias=True)
    return page(request, "retrain_form.html.j2", viewer, name=name, policy=policy,
                stored=record is not None, events=events)


def _policy(form: Any) -> RetrainPolicy:
    from pydantic import ValidationError

    fields: dict[str, Any] = {k: str(form.get(k, "")).strip()[:100] for k in _FIELDS}
    # a form from before the "learn" field, or one left blank, keeps the default (retrain)
    fields = {k: v for k, v in fields.items() if v or k not in (*_OPTIONAL, "learn")}
    fields["enabled"] = form.get("enabled") == "on"
    fields["feedback_only_if_original_gone"] = form.get("feedback_only") == "on"
    try:
        return RetrainPolicy(**fields)
    except ValidationError as error:
        raise ConfigError("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                    for e in error.errors())) from None


@router.post("/ui/models/{name}/retrain-policy")
async def save_policy(request: Request, name: str) -> Response:
    async def work(who: Principal) -> Response:
        from trainforge.jobs.retrain import set_policy

        policy = _policy(await request.form())
        await run_in_threadpool(set_policy, request.app.state.workspace, name, policy,
                                updated_by=who.name)
        return _go(f"/models/{name}")

    return await _act(request, "editor", "change retraining policies", work)


@router.post("/ui/models/{name}/retrain")
async def retrain_now(request: Request, name: str) -> Response:
    async def work(who: Principal) -> Response:
        from trainforge.jobs.retrain import check_model

        checked = await run_in_threadpool(
            lambda: check_model(request.app.state.workspace, name, start=True, queue=True,
                                asked_by=who.name))
        if checked.trigger is not None and checked.trigger.blocked is not None:
            raise RetrainRefused(f"not retrained: {checked.trigger.blocked}")
        return _go(f"/models/{name}")

    return await _act(request, "editor", "retrain models", work)
