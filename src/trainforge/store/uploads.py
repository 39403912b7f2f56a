"""Files uploaded to the server: kept under ``<artifacts>/uploads/<id>/<name>``, recorded in
the store with their size and sha256. With a shared artifact store (``TRAINFORGE_ARTIFACTS``)
the file is copied there before it is recorded, and a machine without it fetches it
(``upload_file``).

A file name from a client is never trusted as a path: ``safe_filename`` keeps only its last
component's letters, digits, dots, dashes and underscores, so nothing can escape the upload's
own directory.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import sqlalchemy as sa
from typing_extensions import TypedDict  # pydantic reads it on Python 3.11

from trainforge.errors import DatasetNotFound
from trainforge.store.clock import as_utc, utc_now
from trainforge.store.handle import FileStoreHandle, StoreHandle
from trainforge.store.private_files import private_directory
from trainforge.store.tables import uploads

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class UploadRecord(TypedDict):
    """One row of ``uploads``: a file a client sent, kept under the artifacts."""

    id: str
    filename: str  # the sanitised name it was given
    path: str  # relative to the workspace's artifacts
    size_bytes: int
    sha256: str
    dataset_id: int | None  # the dataset version read from it, once read
    uploaded_by: str | None
    created_at: datetime


class StoredUpload(UploadRecord):
    """An upload with ``file``, the absolute path of its file."""

    file: Path


def safe_filename(name: str) -> str:
    """A file name that is one plain path component: ``../../etc/passwd`` → ``passwd``,
    ``C:\\data\\x.csv`` → ``x.csv``, ``.env`` → ``env``; never empty."""
    last = PureWindowsPath(PurePosixPath(name.replace("\x00", "")).name).name
    cleaned = _UNSAFE.sub("_", last).lstrip(".-_")[:200]
    return cleaned or "upload"


def new_upload_dir(ws: FileStoreHandle) -> tuple[str, Path]:
    """A fresh id and its directory (created) for an upload in progress."""
    upload_id = uuid.uuid4().hex
    directory = private_directory(ws.artifacts / "uploads") / upload_id
    directory.mkdir()
    return upload_id, directory


def record_upload(ws: FileStoreHandle, *, upload_id: str, path: Path, size_bytes: int,
                  sha256: str, uploaded_by: str | None,
                  dataset_id: int | None = None) -> UploadRecord:
    """Record a completely written upload (first shared, when there is an artifact store: a
    recorded upload is one every machine can read); returns its row."""
    key = path.relative_to(ws.artifacts).as_posix()
    if ws.artifact_store is not None:
        ws.artifact_store.put(path, key)
    row = UploadRecord(id=upload_id, filename=path.name, path=key, size_bytes=size_bytes,
                       sha256=sha256, dataset_id=dataset_id, uploaded_by=uploaded_by,
                       created_at=utc_now())
    with ws.engine.begin() as connection:
        connection.execute(sa.insert(uploads).values(row))
    return row


def set_dataset(ws: StoreHandle, upload_id: str, dataset_id: int) -> None:
    """Link an upload to the dataset version (fingerprint, schema, profile) read from it."""
    with ws.engine.begin() as connection:
        connection.execute(sa.update(uploads).where(uploads.c.id == upload_id)
                           .values(dataset_id=dataset_id))


def get_upload(ws: FileStoreHandle, upload_id: str) -> StoredUpload:
    """The upload's row plus ``file`` (its absolute path); DataFileNotFound if unknown."""
    with ws.engine.connect() as connection:
        row = connection.execute(sa.select(uploads).where(uploads.c.id == upload_id)).first()
    if row is None:
        raise DatasetNotFound(upload_id)
    return StoredUpload(**_upload_record(row), file=ws.artifacts / row.path)


def upload_file(ws: FileStoreHandle, upload: StoredUpload) -> Path:
    """The upload's file on this machine: fetched from the shared artifact store (and checked
    against its recorded sha256) when this machine does not have it yet."""
    store = ws.artifact_store
    if store is not None and not upload["file"].is_file():
        private_directory(upload["file"].parent)
        store.get(upload["path"], upload["file"], sha256=upload["sha256"])
    return upload["file"]


def list_uploads(ws: StoreHandle, *, limit: int = 200) -> list[UploadRecord]:
    """The newest uploads first."""
    with ws.engine.connect() as connection:
        rows = connection.execute(sa.select(uploads).order_by(uploads.c.created_at.desc())
                                  .limit(limit)).all()
    return [_upload_record(row) for row in rows]


def _upload_record(row: sa.Row[Any]) -> UploadRecord:
    return UploadRecord(id=row.id, filename=row.filename, path=row.path,
                        size_bytes=row.size_bytes, sha256=row.sha256, dataset_id=row.dataset_id,
                        uploaded_by=row.uploaded_by, created_at=as_utc(row.created_at))
