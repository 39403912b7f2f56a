"""``/api/v1/datasets``: upload a table (streamed, size-limited), list the uploads, read their
schema and profile.

An upload becomes a dataset version (fingerprint, schema, profile) in the same store the CLI
and the SDK record theirs in; its id is what ``POST /api/v1/jobs`` takes as ``dataset``.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from trainforge.errors import DataError, DatasetNotFound, UnreadableUpload, UploadTooLarge
from trainforge.server.api.bodies import StrictJsonRoute
from trainforge.server.api.statuses import SIGNED_IN
from trainforge.server.auth import require, state_of
from trainforge.server.streamed_upload import ReceivedFile, declared_length, receive_file
from trainforge.store import uploads
from trainforge.store.access import Principal
from trainforge.store.datasets import get_dataset, get_datasets, record_dataset
from trainforge.workspace import Workspace

FIELD = "file"
_MULTIPART_ALLOWANCE = 64 * 1024  # boundaries and part headers around the file itself

Viewer = Annotated[Principal, Depends(require("viewer", "read datasets"))]
Editor = Annotated[Principal, Depends(require("editor", "upload datasets"))]


class DatasetOut(BaseModel):
    """An uploaded table: the file as received and the dataset version read from it."""

    id: str
    filename: str
    size_bytes: int
    sha256: str
    uploaded_by: str | None
    created_at: datetime
    dataset_id: int | None
    fingerprint: str | None
    n_rows: int | None
    n_columns: int | None
    columns: list[str]
    column_kinds: dict[str, str]  # column → kind (numeric, categorical, text, datetime...)


def _shaped(upload: dict[str, Any], dataset: dict[str, Any] | None) -> dict[str, Any]:
    schema: dict[str, str] = dict(dataset["schema"]) if dataset else {}
    shaped = {key: upload[key] for key in ("id", "filename", "size_bytes", "sha256",
                                            "uploaded_by", "created_at", "dataset_id")}
    shaped.update(fingerprint=dataset["fingerprint"] if dataset else None,
                  n_rows=dataset["n_rows"] if dataset else None,
                  n_columns=dataset["n_columns"] if dataset else None, columns=list(schema),
                  column_kinds=schema)
    return shaped


def _dataset_version(ws: Workspace, received: ReceivedFile) -> int:
    """Read the file as a table, profile it and record the version; UnreadableUpload (naming
    the file as the client sent it, not the server's path) when it is not a table."""
    from trainforge.data.profile import profile
    from trainforge.data.read import read_table

    try:
        dataset = read_table(received.path)
        described = profile(dataset).to_dict()
    except DataError as error:
        detail = str(error).replace(str(received.path), received.path.name)
        raise UnreadableUpload(received.path.name, detail) from None
    return record_dataset(ws, dataset, described)


def _upload_or_404(ws: Workspace, upload_id: str) -> dict[str, Any]:
    if not upload_id.isalnum():  # ids are hex; anything else cannot name an upload
        raise DatasetNotFound(upload_id)
    return uploads.get_upload(ws, upload_id)


async def accept_upload(request: Request, who: Principal) -> dict[str, Any]:
    """Receive the request's file field, check it is a table, record it: the API's upload and
    the web UI's upload form both come here."""
    state = state_of(request)
    ws: Workspace = state.workspace
    limit_bytes = int(state.config.max_upload_mb * 2**20)
    length = declared_length(request)
    if length is not None and length > limit_bytes + _MULTIPART_ALLOWANCE:
        raise UploadTooLarge("the upload", limit_bytes)  # refused before reading a byte
    upload_id, directory = uploads.new_upload_dir(ws)
    try:
        received = await receive_file(request, field=FIELD, directory=directory,
                                      limit_bytes=limit_bytes)
        dataset_id = await run_in_threadpool(_dataset_version, ws, received)
        row = uploads.record_upload(ws, upload_id=upload_id, path=received.path,
                                    size_bytes=received.size_bytes, sha256=received.sha256,
                                    uploaded_by=who.name, dataset_id=dataset_id)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)  # a refused upload leaves nothing
        raise
    return _shaped(row, get_dataset(ws, dataset_id))


def router() -> APIRouter:
    routes = APIRouter(prefix="/datasets", tags=["datasets"], route_class=StrictJsonRoute,
                       responses=SIGNED_IN)

    @routes.post("", summary="Upload a table (multipart field `file`) as a new dataset",
                 response_model=DatasetOut, status_code=201,
                 responses={413: {"description": "over the server's upload limit"},
                            422: {"description": "not a readable table"}})
    async def upload(request: Request, who: Editor) -> dict[str, Any]:
        return await accept_upload(request, who)

    @routes.get("", summary="Uploaded datasets, newest first", response_model=list[DatasetOut])
    def list_datasets(request: Request, who: Viewer, limit: int = 200) -> list[dict[str, Any]]:
        ws = state_of(request).workspace
        rows = uploads.list_uploads(ws, limit=max(1, min(limit, 1000)))
        found = get_datasets(ws, (r["dataset_id"] for r in rows if r["dataset_id"] is not None))
        return [_shaped(r, found.get(r["dataset_id"])) for r in rows]

    @routes.get("/{upload_id}", summary="One dataset: its file, size, sha256, columns and their kinds",
                response_model=DatasetOut)
    def show(request: Request, upload_id: str, who: Viewer) -> dict[str, Any]:
        ws = state_of(request).workspace
        row = _upload_or_404(ws, upload_id)
        dataset = get_dataset(ws, row["dataset_id"]) if row["dataset_id"] is not None else None
        return _shaped(row, dataset)

    @routes.get("/{upload_id}/profile", summary="The dataset's profile: each column's kind, "
                "missing values, distinct values, outliers, top values; warnings")
    def show_profile(request: Request, upload_id: str, who: Viewer) -> dict[str, Any]:
        ws = state_of(request).workspace
        row = _upload_or_404(ws, upload_id)
        dataset = get_dataset(ws, row["dataset_id"]) if row["dataset_id"] is not None else None
        if dataset is None or dataset["profile"] is None:
            raise DatasetNotFound(upload_id)
        profile: dict[str, Any] = dataset["profile"]
        return profile

    return routes

