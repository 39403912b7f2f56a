"""``/api/v1/labeling``: labeling projects over REST, calling what the CLI and the labeling
pages call (``jobs.labeling``).

Roles: a viewer reads projects; an annotator also labels, skips and undoes; an editor also
creates projects, settles disagreements, imports and exports (an annotator exporting gets a
403: labels leave the workspace only by someone who may also train on them). Every route is
sync: reading and writing the store run in the thread pool, and the quick model is refitted
by its own process (``labeling.quick_models``), never while a request waits.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from trainforge.errors import LabelingError
from trainforge.jobs import labeling as jobs
from trainforge.labeling.classes import MAX_CLASS_CHARS, MAX_CLASSES
from trainforge.labeling.image_files import image_file
from trainforge.labeling.imported import MAX_NOTE_CHARS
from trainforge.labeling.queue import WHY
from trainforge.labeling.quick_models import QuickModels
from trainforge.labeling.review_items import hint_of, item_of
from trainforge.server.api.bodies import BoundedBodyRoute
from trainforge.server.api.datasets import table_limits
from trainforge.server.api.statuses import MAX_POSITION, SIGNED_IN, documented
from trainforge.server.auth import require, state_of
from trainforge.store import labeling as store
from trainforge.store.access import Principal
from trainforge.store.uploads import get_upload
from trainforge.workspace import Workspace

Viewer = Annotated[Principal, Depends(require("viewer", "read labeling projects"))]
Annotator = Annotated[Principal, Depends(require("annotator", "label items"))]
Editor = Annotated[Principal, Depends(require("editor", "manage labeling projects"))]
Exporter = Annotated[Principal, Depends(require("editor", "export labels"))]
ProjectName = Annotated[str, Path(max_length=100)]
Item = Annotated[int, Path(ge=0, le=MAX_POSITION)]
ClassName = Annotated[str, Field(min_length=1, max_length=MAX_CLASS_CHARS)]
Column = Annotated[str, Field(min_length=1, max_length=200)]
IMPORT_BODY_BYTES = jobs.MAX_IMPORT_BYTES + (1 << 20)  # the file, JSON-escaped, and its name


class NewProjectBody(BaseModel, extra="forbid"):
    name: str = Field(min_length=1, max_length=100)
    dataset: str = Field(max_length=64, description="the id of an uploaded table "
                                                    "(POST /api/v1/datasets answers it)")
    classes: list[ClassName] = Field(min_length=2, max_length=MAX_CLASSES)
    text_column: Column | None = None
    image_column: Column | None = None
    overlap: int = Field(default=1, ge=1, le=jobs.MAX_OVERLAP)


class LabelBody(BaseModel, extra="forbid"):
    label: ClassName
    note: str | None = Field(default=None, max_length=MAX_NOTE_CHARS)


class ExportBody(BaseModel, extra="forbid"):
    format: Literal["dataset", "csv", "label-studio"] = "dataset"


class ImportBody(BaseModel, extra="forbid"):
    filename: str = Field(min_length=1, max_length=255,
                          description="ends in .json (Label Studio) or .csv")
    content: str = Field(max_length=jobs.MAX_IMPORT_BYTES)


def quick_models(request: Request) -> QuickModels:
    found: QuickModels = state_of(request).quick_models
    return found


def _workspace(request: Request) -> Workspace:
    found: Workspace = state_of(request).workspace
    return found


def item_view(request: Request, project: store.ProjectRecord, item: int, *,
              why: str | None = None) -> dict[str, Any]:
    """What the labeling page shows of ``item``: its text (with the words the quick model
    weighs most), its image's URL or its row, and the labels it has."""
    workspace = _workspace(request)
    payload = store.item_payload(workspace, project, item)
    shown: dict[str, Any] = {"item": item, "why": WHY.get(why or "", None),
                             "modality": project["modality"], "classes": project["classes"]}
    if project["modality"] == "image":
        shown["image_url"] = (f"/api/v1/labeling/projects/{project['name']}/items/{item}"
                              "/image")
    elif project["modality"] == "text":
        shown["text"] = payload["text"]
        fitted = quick_models(request).latest(project["id"])
        shown["highlights"] = ([] if fitted is None else [
            list(span) for span in fitted.highlights(payload["text"])])
    else:
        shown["values"] = item_of(payload)
    shown["review"] = hint_of(payload)  # a flagged row's given and suggested label
    shown["labels"] = [{"annotator": r["annotator"], "label": r["label"], "final": r["final"],
                        "note": r["note"]}
                       for r in jobs.item_labels(workspace, project, item)]
    return shown


def router() -> APIRouter:
    routes = APIRouter(prefix="/labeling", tags=["labeling"], route_class=BoundedBodyRoute,
                       responses=SIGNED_IN)

    @routes.get("/projects", summary="Every labeling project")
    def projects(request: Request, who: Viewer) -> list[dict[str, Any]]:
        return [{**p, "created_at": p["created_at"].isoformat()}
                for p in jobs.list_projects(_workspace(request))]

    @routes.post("/projects", status_code=201, responses=documented(404, 409),
                 summary="Make a labeling project from an uploaded table")
    def create(request: Request, body: NewProjectBody, who: Editor) -> dict[str, Any]:
        workspace = _workspace(request)
        upload = get_upload(workspace, body.dataset)
        jobs.create_project(workspace, body.name, upload["file"], classes=body.classes,
                            text_column=body.text_column, image_column=body.image_column,
                            overlap=body.overlap, created_by=who.name,
                            limits=table_limits(state_of(request).config))
        return jobs.project_status(workspace, body.name).to_dict()

    @routes.get("/projects/{name}", responses=documented(404),
                summary="Progress, labels per person, agreement and the quick model's scores")
    def status(request: Request, name: ProjectName, who: Viewer) -> dict[str, Any]:
        return jobs.project_status(_workspace(request), name).to_dict()

    @routes.get("/projects/{name}/next", responses=documented(404),
                summary="The item the caller should label next (null: none left)")
    def next_item(request: Request, name: ProjectName, who: Annotator) -> dict[str, Any] | None:
        project = store.get_project(_workspace(request), name)
        fitted = quick_models(request).latest(project["id"])
        _, found = jobs.next_for(_workspace(request), name, annotator=who.name,
                                 ranked=None if fitted is None else fitted.ranked)
        return None if found is None else item_view(request, project, found.position,
                                                     why=found.why)

    @routes.get("/projects/{name}/items/{item}", responses=documented(404),
                summary="One item and its labels")
    def item(request: Request, name: ProjectName, item: Item, who: Viewer) -> dict[str, Any]:
        return item_view(request, store.get_project(_workspace(request), name), item)

    @routes.get("/projects/{name}/items/{item}/image", responses=documented(404),
                response_class=Response, summary="An image project's item's image")
    def image(request: Request, name: ProjectName, item: Item, who: Viewer) -> Response:
        return image_answer(_workspace(request), name, item)

    @routes.post("/projects/{name}/items/{item}/label", responses=documented(404),
                 summary="Label an item (replacing the caller's earlier label of it)")
    def label(request: Request, name: ProjectName, item: Item, body: LabelBody,
              who: Annotator) -> dict[str, Any]:
        jobs.label_item(_workspace(request), name, item, annotator=who.name, label=body.label,
                        note=body.note, changed=quick_models(request).labels_changed)
        return {"item": item, "label": body.label}

    @routes.post("/projects/{name}/items/{item}/skip", responses=documented(404),
                 summary="Skip an item (it is not shown to the caller again)")
    def skip(request: Request, name: ProjectName, item: Item, who: Annotator
             ) -> dict[str, Any]:
        jobs.label_item(_workspace(request), name, item, annotator=who.name, label=None)
        return {"item": item, "label": None}

    @routes.post("/projects/{name}/undo", responses=documented(404),
                 summary="Take back the caller's latest label or skip")
    def undo(request: Request, name: ProjectName, who: Annotator) -> dict[str, Any]:
        undone = jobs.undo_last(_workspace(request), name, annotator=who.name,
                                changed=quick_models(request).labels_changed)
        return {"item": undone}

    @routes.get("/projects/{name}/disagreements", responses=documented(404),
                summary="Items whose annotators disagree and no reviewer has settled")
    def disagreements(request: Request, name: ProjectName, who: Editor) -> dict[str, Any]:
        _, items = jobs.disagreements(_workspace(request), name)
        return {"items": items}

    @routes.post("/projects/{name}/items/{item}/settle", responses=documented(404),
                 summary="Settle an item's class (a reviewer's final label)")
    def settle(request: Request, name: ProjectName, item: Item, body: LabelBody,
               who: Editor) -> dict[str, Any]:
        jobs.label_item(_workspace(request), name, item, annotator=who.name, label=body.label,
                        note=body.note, final=True,
                        changed=quick_models(request).labels_changed)
        return {"item": item, "label": body.label, "final": True}

    @routes.post("/projects/{name}/export", responses=documented(404, 409),
                 summary="Export the labels: a dataset version to train on, CSV or Label "
                         "Studio JSON")
    def export(request: Request, name: ProjectName, body: ExportBody, who: Exporter
               ) -> Response:
        return export_answer(_workspace(request), name, body.format, who)

    @routes.post("/projects/{name}/import", responses=documented(404, 413),
                 summary="Import labels from Label Studio JSON or CSV (checked whole first)",
                 max_body_size=IMPORT_BODY_BYTES)
    def import_(request: Request, name: ProjectName, body: ImportBody, who: Editor
                ) -> dict[str, Any]:
        count = jobs.import_labels(_workspace(request), name, body.content.encode(),
                                   source=body.filename, imported_by=who.name,
                                   changed=quick_models(request).labels_changed)
        return {"imported": count}

    return routes


def image_answer(workspace: Workspace, name: str, item: int) -> Response:
    """The image of ``item``: only an image project's own item's file, bounded in size and
    checked to be an image each time (the file may have changed since)."""
    project = store.get_project(workspace, name)
    payload = store.item_payload(workspace, project, item)
    if project["modality"] != "image":
        raise LabelingError(f"project {name!r} labels {project['modality']}, not images")
    data, media_type = image_file(payload["path"], where=f"item {item}")
    return Response(data, media_type=media_type,
                    headers={"Cache-Control": "private, max-age=3600",
                             "X-Content-Type-Options": "nosniff"})


def export_answer(workspace: Workspace, name: str, format: str, who: Principal) -> Response:
    """The exported file (csv, label-studio) as the answer, or the dataset version made."""
    folder = workspace.artifacts / "labeling" / name
    suffix = "json" if format == "label-studio" else "csv"
    done = jobs.export_labels(workspace, name, out=folder / f"export-{format}.{suffix}",
                              format=format, exported_by=who.name)  # type: ignore[arg-type]
    if done.dataset_id is None:
        media = "application/json" if format == "label-studio" else "text/csv"
        return Response(done.path.read_bytes(), media_type=media, headers={
            "Content-Disposition": f'attachment; filename="{name}.{suffix}"'})
    project = store.get_project(workspace, name)
    return Response(orjson.dumps({"dataset_id": done.dataset_id, "rows": done.n_rows,
                                  "target": project["target"]}),
                    media_type="application/json")
