"""What the UI's forms do: upload a dataset, promote a version, deploy and undeploy, put a
challenger in shadow, promote it or roll back, try a deployed model. Each form posts with htmx, which sends the session's CSRF token in a header;
each route calls the function the REST API calls, then tells htmx where to go next
(``HX-Redirect``) or answers an HTML fragment (an error, or the try-it result) to swap in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from trainforge.errors import TrainforgeError
from trainforge.monitoring.prediction_log import LogPolicy
from trainforge.server.api.bodies import STREAMS_ITS_BODY, BoundedBodyRoute
from trainforge.server.api.datasets import accept_upload
from trainforge.server.auth import identify
from trainforge.server.ui.render import missing_page, page, signed_in, to_login
from trainforge.serving.signature import RecordsInvalid
from trainforge.store.access import Principal

router = APIRouter(include_in_schema=False, route_class=BoundedBodyRoute)  # bounded bodies
HISTORY_SHOWN = 10  # the latest changes of each deployment on its page; the API has them all
MAX_REASON = 1_000  # characters of a reason kept in the history, as the API's


def _fragment(html: str) -> HTMLResponse:
    # 200 so that htmx swaps it in (it leaves 4xx/5xx answers out by default)
    return HTMLResponse(html)


def _error(message: str) -> HTMLResponse:
    from markupsafe import escape

    return _fragment(f'<p class="error" role="alert">{escape(message)}</p>')


def _go(location: str) -> Response:
    return Response(status_code=204, headers={"HX-Redirect": location})


async def _act(request: Request, role: str, action: str,
               work: Callable[[Principal], Awaitable[Response]], *,
               form_streamed: bool = False) -> Response:
    """Check the session, its CSRF header and the role; run ``work``; any TrainforgeError
    becomes an error fragment the form shows in place. ``form_streamed``: as for
    ``identify``, for the upload, whose form is parsed as it streams."""
    try:
        who = await identify(request, form_streamed=form_streamed)
        if not who.may(role):
            return _error(f"A {who.role} may not {action}; ask an admin for the {role} role.")
        return await work(who)
    except TrainforgeError as error:
        return _error(str(error))


@router.post("/ui/datasets", max_body_size=STREAMS_ITS_BODY)
async def upload_dataset(request: Request) -> Response:
    async def work(who: Principal) -> Response:
        shown = await accept_upload(request, who)
        return _go(f"/datasets/{shown['id']}")

    return await _act(request, "editor", "upload datasets", work, form_streamed=True)


@router.post("/ui/models/{name}/aliases")
async def promote(request: Request, name: str) -> Response:
    async def work(who: Principal) -> Response:
        form = await request.form()
        alias, version = str(form.get("alias", "")).strip(), str(form.get("version", ""))
        if not version.isdigit():
            return _error(f"version {version!r} is not a version number")
        await run_in_threadpool(request.app.state.workspace.registry.alias, name,
                                int(version), alias)
        return _go(f"/models/{name}")

    return await _act(request, "editor", "promote models", work)


@router.get("/deployments")
async def deployments_page(request: Request) -> Response:
    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    deployments = request.app.state.deployments
    served = deployments.router.served
    listed = await run_in_threadpool(deployments.listing)
    histories = await run_in_threadpool(
        lambda: {row["name"]: deployments.history(row["name"])[:HISTORY_SHOWN]
                 for row in listed})
    return page(request, "deployments.html.j2", viewer, deployments=listed,
                histories=histories,
                fields={name: model.signature.features for name, model in served.items()},
                levels={name: _levels(model) for name, model in served.items()},
                models=request.app.state.workspace.registry.list_models())


def _levels(served: Any) -> dict[str, list[str]]:
    """Each category column's known levels (the try-it form offers them), up to 50."""
    from trainforge.serving.plans import known_categories

    model = served.loaded.model
    found: dict[str, list[str]] = {}
    for member in getattr(model, "members", []):
        for column, values in known_categories(member.preprocessor).items():
            found.setdefault(column, [str(v) for v in values if v is not None][:50])
    return found


@router.post("/ui/deployments")
async def deploy(request: Request) -> Response:
    async def work(who: Principal) -> Response:
        form = await request.form()
        requested = str(form.get("model", "")).strip()
        name = str(form.get("name", "")).strip() or None
        if not requested:
            return _error("choose a model to deploy")
        policy = LogPolicy.parse(str(form.get("log", "")).strip()[:40] or "all")
        await run_in_threadpool(request.app.state.deployments.deploy, requested, name=name,
                                deployed_by=who.name, log_policy=policy)
        return _go("/deployments")

    return await _act(request, "editor", "deploy models", work)


@router.post("/ui/deployments/{name}/undeploy")
async def undeploy(request: Request, name: str) -> Response:
    async def work(who: Principal) -> Response:
        await run_in_threadpool(request.app.state.deployments.undeploy, name, by=who.name)
        return _go("/deployments")

    return await _act(request, "editor", "undeploy models", work)


async def _reason(request: Request) -> str | None:
    form = await request.form()
    return str(form.get("reason", "")).strip()[:MAX_REASON] or None


@router.post("/ui/deployments/{name}/shadow")
async def shadow(request: Request, name: str) -> Response:
    async def work(who: Principal) -> Response:
        form = await request.form()
        requested = str(form.get("model", "")).strip()[:200] or None
        await run_in_threadpool(lambda: request.app.state.deployments.set_shadow(
            name, requested, by=who.name, reason=str(form.get("reason", "")).strip()[
                :MAX_REASON] or None))
        return _go("/deployments")

    return await _act(request, "editor", "change deployments", work)


class _VersionChange(Protocol):
    def __call__(self, name: str, *, by: str | None, reason: str | None) -> object: ...


async def _change_version(request: Request, name: str, change: _VersionChange, *,
                          action: str) -> Response:
    """A deployment's promote or rollback button: ``change`` (``Deployments.promote`` or
    ``.rollback``) by the signed-in editor, with the form's reason, then the deployments."""
    async def work(who: Principal) -> Response:
        reason = await _reason(request)
        await run_in_threadpool(lambda: change(name, by=who.name, reason=reason))
        return _go("/deployments")

    return await _act(request, "editor", action, work)


@router.post("/ui/deployments/{name}/promote")
async def promote_shadow(request: Request, name: str) -> Response:
    return await _change_version(request, name, request.app.state.deployments.promote,
                                 action="promote deployments")


@router.post("/ui/deployments/{name}/rollback")
async def rollback(request: Request, name: str) -> Response:
    return await _change_version(request, name, request.app.state.deployments.rollback,
                                 action="roll deployments back")


# a sync handler: reading the logs and the bootstrap run in the thread pool
@router.get("/deployments/{name}/comparison")
def comparison_page(request: Request, name: str) -> Response:
    from trainforge.monitoring.compare import compare_deployment

    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    workspace = request.app.state.workspace
    try:
        result = compare_deployment(name, store=workspace, registry=workspace.registry,
                                    log_root=workspace.prediction_log)
    except TrainforgeError as error:
        return missing_page(request, viewer, error)
    return page(request, "comparison.html.j2", viewer, name=name, result=result)


@router.post("/ui/deployments/{name}/try")
async def try_it(request: Request, name: str) -> Response:
    """One record from the try-it form, answered by the deployed model exactly as its
    ``/v1/models/{name}/predict`` would answer it."""
    async def work(who: Principal) -> Response:
        served = request.app.state.deployments.router.served.get(name)
        if served is None:
            return _error(f"nothing is deployed as {name!r} any more; reload the page")
        form = await request.form()
        record: dict[str, Any] = {}
        for spec in served.signature.features:
            value = str(form.get(spec.name, "")).strip()
            record[spec.name] = None if value == "" else value
        try:
            columns = served.signature.parse_request(orjson.dumps({"records": [record]}))
            answer = await run_in_threadpool(served.answer, columns)
        except RecordsInvalid as invalid:
            problems = "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in invalid.errors[:5])
            return _error(problems)
        return page(request, "try_result.html.j2", None, answer=answer)

    return await _act(request, "viewer", "try models", work)


@router.get("/train")
async def training_form(request: Request, dataset: str = "") -> Response:
    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    from trainforge.server.ui.job_forms import FORMS
    from trainforge.store import uploads

    listed = uploads.list_uploads(request.app.state.workspace)
    chosen = dataset if any(u["id"] == dataset for u in listed) else ""
    return page(request, "train.html.j2", viewer, datasets=listed, chosen=chosen,
                columns=_columns(request, chosen) if chosen else [],
                forms={kind: title for kind, (_, title) in FORMS.items()})


@router.get("/ui/columns")
async def column_options(request: Request, dataset: str = "") -> Response:
    """The ``<option>``s of the target select for the chosen dataset."""
    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    return page(request, "target_options.html.j2", viewer,
                columns=_columns(request, dataset) if dataset else [])


def _columns(request: Request, upload_id: str) -> list[str]:
    from trainforge.store import uploads
    from trainforge.store.datasets import get_dataset

    try:
        upload = uploads.get_upload(request.app.state.workspace, upload_id)
    except TrainforgeError:
        return []
    recorded: Mapping[str, Any] | None = (
        get_dataset(request.app.state.workspace, upload["dataset_id"])
        if upload["dataset_id"] else None)
    return list((recorded or {}).get("schema", {}))


@router.post("/ui/jobs")
async def start_training(request: Request) -> Response:
    """The new-training form: the same TrainJob body and ``submit`` as ``POST /api/v1/jobs``."""
    async def work(who: Principal) -> Response:
        from pydantic import ValidationError

        from trainforge.server.job_requests import TrainJob, submit

        form = await request.form()
        fields = {key: str(value).strip() for key, value in form.items()
                  if key != "csrf_token" and str(value).strip()}
        try:
            body = TrainJob.model_validate({"kind": "train", **fields})
        except ValidationError as invalid:
            return _error("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                    for e in invalid.errors()))
        job = await run_in_threadpool(submit, request.app.state.workspace, body, who,
                                     capacity=request.app.state.capacity)
        return _go(f"/jobs/{job['id']}")

    return await _act(request, "editor", "start training", work)


@router.get("/jobs/new/{kind}")
async def job_form(request: Request, kind: str) -> Response:
    """The form of a job kind (``job_forms.FORMS``): its body's fields as inputs."""
    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    from trainforge.server.ui.job_forms import FORMS, form_fields
    from trainforge.store import uploads

    if kind not in FORMS:
        return page(request, "missing.html.j2", viewer, status=404,
                    message=f"no job of this kind; the forms are: {', '.join(FORMS)}")
    body, title = FORMS[kind]
    workspace = request.app.state.workspace
    return page(request, "job_form.html.j2", viewer, kind=kind, title=title,
                fields=form_fields(body), datasets=uploads.list_uploads(workspace),
                models=[m.name for m in workspace.registry.list_models()],
                forms={k: t for k, (_, t) in FORMS.items()})


@router.post("/ui/jobs/new/{kind}")
async def start_job(request: Request, kind: str) -> Response:
    """A job form: the same body and ``submit`` as ``POST /api/v1/jobs``."""
    async def work(who: Principal) -> Response:
        from pydantic import TypeAdapter, ValidationError

        from trainforge.server.job_requests import JobRequest, submit
        from trainforge.server.ui.job_forms import FORMS, body_from_form

        if kind not in FORMS:
            return _error(f"no job of this kind; the forms are: {', '.join(FORMS)}")
        form = await request.form()
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        try:
            body = TypeAdapter(JobRequest).validate_python(body_from_form(kind, fields))
        except ValidationError as invalid:  # the error's location starts with the kind
            return _error("; ".join(f"{'.'.join(map(str, e['loc'][1:])) or 'form'}: "
                                    f"{e['msg']}" for e in invalid.errors()))
        job = await run_in_threadpool(submit, request.app.state.workspace, body, who,
                                     capacity=request.app.state.capacity)
        return _go(f"/jobs/{job['id']}")

    return await _act(request, "editor", "start jobs", work)


@router.post("/ui/jobs/{job_id}/cancel")
async def cancel_job(request: Request, job_id: str) -> Response:
    """The job page's Cancel button: what ``POST /api/v1/jobs/{id}/cancel`` does."""
    async def work(who: Principal) -> Response:
        from trainforge.store import jobs

        jobs.cancel_job(request.app.state.workspace, job_id)
        return _go(f"/jobs/{job_id}")

    return await _act(request, "editor", "cancel jobs", work)
