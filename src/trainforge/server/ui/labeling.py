"""The labeling pages: the projects, a project's progress (labels per person, agreement, the
quick model's score against the number of labels), the labeling page itself and the
disagreements queue.

The labeling page is made for speed: one item at a time, keys 1-9 pick a class, u undoes,
s skips (``static/labeling.js``); each answer is the next item's fragment, swapped in by htmx.
Every form calls what the REST routes call (``jobs.labeling``); the page reads the quick
model's latest order and never waits for a refit.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import escape
from starlette.concurrency import run_in_threadpool

from trainforge.errors import LabelingError
from trainforge.jobs import labeling as jobs
from trainforge.labeling.classes import MAX_CLASS_CHARS
from trainforge.labeling.imported import MAX_NOTE_CHARS
from trainforge.labeling.queue import WHY, next_item
from trainforge.labeling.review_items import hint_of, item_of
from trainforge.server.api.bodies import BoundedBodyRoute
from trainforge.server.api.labeling import export_answer, image_answer, quick_models
from trainforge.server.ui.actions import _act, _error, _go
from trainforge.server.ui.render import (
    Viewer,
    environment,
    page,
    signed_in,
    signed_in_page,
    to_login,
    workspace_of,
)
from trainforge.store import labeling as store
from trainforge.store import uploads
from trainforge.store.access import Principal

router = APIRouter(include_in_schema=False, route_class=BoundedBodyRoute)
KEYS = 9  # classes past the ninth are picked with the mouse
CHART_W, CHART_H = 320, 120


@router.get("/labeling")
async def projects_page(request: Request) -> Response:
    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    workspace = workspace_of(request)
    projects = await run_in_threadpool(jobs.list_projects, workspace)
    return page(request, "labeling_projects.html.j2", viewer, projects=projects,
                datasets=uploads.list_uploads(workspace, limit=50))


@router.post("/ui/labeling")
async def create(request: Request) -> Response:
    async def work(who: Principal) -> Response:
        form = await request.form()
        fields = {k: str(form.get(k, "")).strip()[:MAX_CLASS_CHARS * 50] for k in (
            "name", "dataset", "classes", "text_column", "image_column", "overlap")}
        workspace = workspace_of(request)
        upload = await run_in_threadpool(uploads.get_upload, workspace, fields["dataset"][:64])
        overlap = int(fields["overlap"]) if fields["overlap"].isdigit() else 1
        await run_in_threadpool(lambda: jobs.create_project(
            workspace, fields["name"][:100], upload["file"], classes=fields["classes"],
            text_column=fields["text_column"][:200] or None,
            image_column=fields["image_column"][:200] or None, overlap=overlap,
            created_by=who.name))
        return _go(f"/labeling/{fields['name']}")

    return await _act(request, "editor", "create labeling projects", work)


@router.get("/labeling/{name}")
async def project_page(request: Request, name: str) -> Response:
    return await signed_in_page(
        request, lambda _: jobs.project_status(workspace_of(request), name),
        lambda viewer, status: page(request, "labeling_project.html.j2", viewer,
                                    shown=status.to_dict(), chart=score_chart(status.scores)))


def score_chart(scores: list[tuple[int, float]]) -> dict[str, Any] | None:
    """The quick model's CV score against the number of labels, as SVG polyline points."""
    if not scores:
        return None
    most = max(n for n, _ in scores) or 1
    points = " ".join(f"{CHART_W * n / most:.1f},{CHART_H * (1 - s):.1f}" for n, s in scores)
    return {"points": points, "width": CHART_W, "height": CHART_H, "most": most,
            "last": scores[-1]}


@router.get("/labeling/{name}/label")
async def label_page(request: Request, name: str) -> Response:
    return await signed_in_page(
        request, lambda viewer: _next_context(request, name, viewer.name),
        lambda viewer, context: page(request, "labeling_label.html.j2", viewer, **context))


def _next_context(request: Request, name: str, annotator: str, *,
                  item: int | None = None) -> dict[str, Any]:
    """What the labeling fragment shows: ``item``, else the annotator's next one."""
    workspace = workspace_of(request)
    project = store.get_project(workspace, name)
    why = None
    if item is None:
        fitted = quick_models(request).latest(project["id"])
        # the project is read once per answer: each read costs ~1 ms of statement building
        found = next_item(workspace, project, annotator=annotator,
                          ranked=None if fitted is None else fitted.ranked)
        item, why = (None, None) if found is None else (found.position, found.why)
    n_items, n_labelled = store.progress(workspace, project["id"])
    context: dict[str, Any] = {"project": project, "item": item, "why": WHY.get(why or ""),
                               "keys": KEYS, "n_items": n_items, "n_labelled": n_labelled,
                               "max_note": MAX_NOTE_CHARS,
                               "quick_model_down": quick_models(request).down,
                               "review": None}
    if item is not None:
        payload = store.item_payload(workspace, project, item)
        context["payload"], context["review"] = item_of(payload), hint_of(payload)
        if project["modality"] == "text":
            context["pieces"] = _highlighted(request, project, payload["text"])
    return context


def _highlighted(request: Request, project: store.ProjectRecord, text: str
                 ) -> list[tuple[str, bool]]:
    """``text`` cut into pieces, each marked when it is a word the quick model weighs most."""
    fitted = quick_models(request).latest(project["id"])
    if fitted is None:
        return [(text, False)]
    pieces, at = [], 0
    for start, end, _ in sorted(fitted.highlights(text)):
        if start < at:
            continue  # overlapping spans: the first one is shown
        pieces += [(text[at:start], False), (text[start:end], True)]
        at = end
    return [*pieces, (text[at:], False)]


def _fragment(request: Request, viewer_name: str, name: str, *,
              item: int | None = None) -> HTMLResponse:
    context = _next_context(request, name, viewer_name, item=item)
    html = environment().get_template("labeling_item.html.j2").render(**context)
    return HTMLResponse(html)


def _item_field(form: Any) -> int:
    raw = str(form.get("item", ""))[:20]
    if not raw.isdigit():
        raise LabelingError("the form names no item; reload the page")
    return int(raw)


@router.post("/ui/labeling/{name}/label")
async def label(request: Request, name: str) -> Response:
    async def work(who: Principal) -> Response:
        form = await request.form()
        item = _item_field(form)
        choice = str(form.get("label", ""))[:MAX_CLASS_CHARS]
        note = str(form.get("note", ""))[:MAX_NOTE_CHARS]
        changed = quick_models(request).labels_changed
        await run_in_threadpool(lambda: jobs.label_item(
            workspace_of(request), name, item, annotator=who.name, label=choice, note=note,
            changed=changed))
        return await run_in_threadpool(_fragment, request, who.name, name)

    return await _act(request, "annotator", "label items", work)


@router.post("/ui/labeling/{name}/skip")
async def skip(request: Request, name: str) -> Response:
    async def work(who: Principal) -> Response:
        item = _item_field(await request.form())
        await run_in_threadpool(lambda: jobs.label_item(
            workspace_of(request), name, item, annotator=who.name, label=None))
        return await run_in_threadpool(_fragment, request, who.name, name)

    return await _act(request, "annotator", "skip items", work)


@router.post("/ui/labeling/{name}/undo")
async def undo(request: Request, name: str) -> Response:
    async def work(who: Principal) -> Response:
        changed = quick_models(request).labels_changed
        undone = await run_in_threadpool(lambda: jobs.undo_last(
            workspace_of(request), name, annotator=who.name, changed=changed))
        return await run_in_threadpool(lambda: _fragment(request, who.name, name, item=undone))

    return await _act(request, "annotator", "undo labels", work)


@router.get("/labeling/{name}/items/{item}/image")
async def image(request: Request, name: str, item: int) -> Response:
    return await signed_in_page(
        request, lambda _: image_answer(workspace_of(request), name, item),
        lambda _, answer: answer)


@router.get("/labeling/{name}/disagreements")
async def disagreements_page(request: Request, name: str) -> Response:
    workspace = workspace_of(request)

    def show(viewer: Viewer, found: tuple[store.ProjectRecord, list[int]]) -> Response:
        project, items = found
        shown = [(item, store.item_payload(workspace, project, item),
                  jobs.item_labels(workspace, project, item)) for item in items]
        return page(request, "labeling_disagreements.html.j2", viewer, project=project,
                    items=shown)

    return await signed_in_page(request, lambda _: jobs.disagreements(workspace, name), show)


@router.post("/ui/labeling/{name}/settle")
async def settle(request: Request, name: str) -> Response:
    async def work(who: Principal) -> Response:
        form = await request.form()
        item = _item_field(form)
        choice = str(form.get("label", ""))[:MAX_CLASS_CHARS]
        changed = quick_models(request).labels_changed
        await run_in_threadpool(lambda: jobs.label_item(
            workspace_of(request), name, item, annotator=who.name, label=choice, final=True,
            changed=changed))
        return _go(f"/labeling/{name}/disagreements")

    return await _act(request, "editor", "settle disagreements", work)


@router.post("/ui/labeling/{name}/export")
async def export(request: Request, name: str) -> Response:
    async def work(who: Principal) -> Response:
        chosen = str((await request.form()).get("format", "dataset"))
        if chosen not in jobs.EXPORT_FORMATS:
            return _error("choose an export format: dataset, csv or label-studio")
        answer = await run_in_threadpool(export_answer, workspace_of(request), name, chosen, who)
        if chosen != "dataset":
            return answer  # a plain form: the browser saves the attachment
        shown = orjson.loads(answer.body)
        return HTMLResponse(
            f'<p role="status">Exported {shown["rows"]:,} rows as dataset version '
            f'{shown["dataset_id"]}; train with target <code>{escape(shown["target"])}</code>.'
            '</p>')

    return await _act(request, "editor", "export labels", work)
