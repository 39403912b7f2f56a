"""The deployments page's label upload: a table of true outcomes for one deployment's logged
predictions, recorded by the function the REST route calls (``submit_feedback``).

The form's body is bounded like every form's (``MAX_BODY_BYTES``): a larger file goes
through ``trainforge feedback`` or the REST route."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from trainforge.server.api.bodies import BoundedBodyRoute
from trainforge.server.ui.actions import _act, _error
from trainforge.server.ui.render import page
from trainforge.store.access import Principal
from trainforge.workspace import Workspace

router = APIRouter(include_in_schema=False, route_class=BoundedBodyRoute)
SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".json", ".jsonl")


def _record(workspace: Workspace, data: bytes, suffix: str, *, name: str, id_column: str,
            label_column: str, who: str, replace: bool) -> dict[str, Any]:
    from trainforge.data.read import read_table
    from trainforge.monitoring.feedback_doors import frame_records, submit_feedback

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"labels{suffix}"
        path.write_bytes(data)
        records = frame_records(read_table(path).frame)
    return submit_feedback(workspace, workspace.prediction_log, deployment=name,
                           records=records, id_column=id_column, label_column=label_column,
                           submitted_by=who, replace=replace).to_dict()


@router.post("/ui/deployments/{name}/feedback")
async def upload_labels(request: Request, name: str) -> Response:
    async def work(who: Principal) -> Response:
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return _error("choose a file of labels")
        suffix = Path(upload.filename).suffix.lower()
        if suffix not in SUFFIXES:
            return _error(f"a file of labels is one of {', '.join(SUFFIXES)}")
        data = await upload.read()
        id_column = str(form.get("id_column") or "request_id").strip()[:100]
        label_column = str(form.get("label_column") or "label").strip()[:100]
        outcome = await run_in_threadpool(
            _record, request.app.state.workspace, data, suffix, name=name,
            id_column=id_column, label_column=label_column, who=who.name,
            replace=form.get("replace") == "on")
        return page(request, "feedback_result.html.j2", None, outcome=outcome)

    return await _act(request, "editor", "send feedback labels", work)
