"""``/api/v1/datasets``: upload a table (streamed, size-limited), list the uploads, read their
schema and profile.

An upload is limited three ways, each a ``trainforge server`` flag: the bytes sent
(``--max-upload-mb``), what they decompress to (``--max-table-mb``) and the rows
(``--max-table-rows``); the last two are checked as the table is read, off the event loop, so
a small compressed "bomb" is stopped before it is inflated.

An upload becomes a dataset version (fingerprint, schema, profile) in the same store the CLI
and the SDK record theirs in; its id is what ``POST /api/v1/jobs`` takes as ``dataset``.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from trainforge.config import ServerConfig
from trainforge.data.limits import TableLimits
from trainforge.errors import (
    DataError,
    DatasetNotFound,
    TableTooLarge,
    UnreadableUpload,
    UploadTooLarge,
)
from trainforge.server.api.bodies import STREAMS_ITS_BODY, BoundedBodyRoute
from trainforge.server.api.statuses import SIGNED_IN, documented
from trainforge.server.auth import require, state_of
from trainforge.server.streamed_upload import (
    MULTIPART_ALLOWANCE,
    ReceivedFile,
    declared_length,
    receive_file,
)
from trainforge.store import uploads
from trainforge.store.access import Principal
from trainforge.store.datasets import get_dataset, get_datasets, record_dataset
from trainforge.workspace import Workspace

FIELD = "file"

Viewer = Annotated[Principal, Depends(require("viewer", "read datasets"))]
# a browser's csrf_token form field is checked as the upload streams, not read whole first
Uploader = Annotated[Principal, Depends(require("editor", "upload datasets",
                                                form_streamed=True))]


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


def _shaped(upload: Mapping[str, Any], dataset: Mapping[str, Any] | None) -> dict[str, Any]:
    schema: dict[str, str] = dict(dataset["schema"]) if dataset else {}
    shaped = {key: upload[key] for key in ("id", "filename", "size_bytes", "sha256",
                                            "uploaded_by", "created_at", "dataset_id")}
    shaped.update(fingerprint=dataset["fingerprint"] if dataset else None,
                  n_rows=dataset["n_rows"] if dataset else None,
                  n_columns=dataset["n_columns"] if dataset else None, columns=list(schema),
                  column_kinds=schema)
    return shaped


def table_limits(config: ServerConfig) -> TableLimits:
    """The server's limits on what an upload may expand to, naming the flags that raise them."""
    return TableLimits(max_bytes=int(config.max_table_mb * 2**20),
                       max_rows=config.max_table_rows,
                       bytes_setting="`trainforge server --max-table-mb N`",
                       rows_setting="`trainforge server --max-table-rows N`")


def _dataset_version(ws: Workspace, received: ReceivedFile, limits: TableLimits) -> int:
    """Read the file as a table within ``limits``, profile it and record the version.

    Errors name the file as the client sent it (sanitized), never the server's path:
    TableTooLarge past a limit, UnreadableUpload when it is not a table.
    """
    from trainforge.data.profile import profile
    from trainforge.data.read import read_table

    name = received.path.name
    try:
        dataset = read_table(received.path, limits=limits)
        described = profile(dataset).to_dict()
    except TableTooLarge as error:
        raise TableTooLarge(name, limit=error.limit, setting=error.setting) from None
    except DataError as error:
        raise UnreadableUpload(name, str(error).replace(str(received.path), name)) from None
    return record_dataset(ws, dataset, described)


def _record(ws: Workspace, *, upload_id: str, received: ReceivedFile, who: Principal,
            limits: TableLimits) -> dict[str, Any]:
    """The upload read, profiled and recorded: blocking work, run in the threadpool."""
    dataset_id = _dataset_version(ws, received, limits)
    row = uploads.record_upload(ws, upload_id=upload_id, path=received.path,
                                size_bytes=received.size_bytes, sha256=received.sha256,
                                uploaded_by=who.name, dataset_id=dataset_id)
    return _shaped(row, get_dataset(ws, dataset_id))


def _upload_or_404(ws: Workspace, upload_id: str) -> uploads.StoredUpload:
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
    if length is not None and length > limit_bytes + MULTIPART_ALLOWANCE:
        raise UploadTooLarge("the upload", limit_bytes)  # refused before reading a byte
    upload_id, directory = uploads.new_upload_dir(ws)
    try:
        received = await receive_file(request, field=FIELD, directory=directory,
                                      limit_bytes=limit_bytes)
        # parsing and profiling hold a core for seconds: never on the event loop
        return await run_in_threadpool(_record, ws, upload_id=upload_id, received=received,
                                       who=who, limits=table_limits(state.config))
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)  # a refused upload leaves nothing
        raise


def router() -> APIRouter:
    routes = APIRouter(prefix="/datasets", tags=["datasets"], route_class=BoundedBodyRoute,
                       responses=SIGNED_IN)

    @routes.post("", summary="Upload a table (multipart field `file`) as a new dataset",
                 response_model=DatasetOut, status_code=201, max_body_size=STREAMS_ITS_BODY,
                 responses={413: {"description": "over the server's upload, decompressed "
                                                 "size or row limit"},
                            422: {"description": "not a readable table"}})
    async def upload(request: Request, who: Uploader) -> dict[str, Any]:
        return await accept_upload(request, who)

    @routes.get("", summary="Uploaded datasets, newest first", response_model=list[DatasetOut])
    def list_datasets(request: Request, who: Viewer,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict[str, Any]]:
        ws = state_of(request).workspace
        rows = uploads.list_uploads(ws, limit=limit)
        found = get_datasets(ws, (r["dataset_id"] for r in rows if r["dataset_id"] is not None))
        return [_shaped(r, None if r["dataset_id"] is None else found.get(r["dataset_id"]))
                for r in rows]

    @routes.get("/{upload_id}", summary="One dataset: its file, size, sha256, columns and their kinds",
                response_model=DatasetOut, responses=documented(404))
    def show(request: Request, upload_id: str, who: Viewer) -> dict[str, Any]:
        ws = state_of(request).workspace
        row = _upload_or_404(ws, upload_id)
        dataset = get_dataset(ws, row["dataset_id"]) if row["dataset_id"] is not None else None
        return _shaped(row, dataset)

    @routes.get("/{upload_id}/profile", summary="The dataset's profile: each column's kind, "
                "missing values, distinct values, outliers, top values; warnings",
                responses=documented(404))
    def show_profile(request: Request, upload_id: str, who: Viewer) -> dict[str, Any]:
        ws = state_of(request).workspace
        row = _upload_or_404(ws, upload_id)
        dataset = get_dataset(ws, row["dataset_id"]) if row["dataset_id"] is not None else None
        if dataset is None or dataset["profile"] is None:
            raise DatasetNotFound(upload_id)
        profile: dict[str, Any] = dataset["profile"]
        return profile

    return routes

