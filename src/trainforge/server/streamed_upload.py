"""Receiving one file of a multipart upload straight to disk, with a size limit and its sha256.

The body is parsed as it arrives (python-multipart's streaming parser), so an upload over the
limit is refused at the first byte past it: the client's remaining bytes are never read or
written, and the partial file is removed by the caller. Starlette's ``request.form()`` would
first spool the whole body to a temporary file, which is what a size limit must prevent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import UploadFile

from trainforge.errors import InvalidRequest, UploadTooLarge
from trainforge.store.uploads import safe_filename

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class ReceivedFile:
    """A file written completely under the upload's directory."""

    path: Path
    sent_name: str  # the client's file name, as sent (never used as a path)
    size_bytes: int
    sha256: str


def declared_length(request: Request) -> int | None:
    """The request's Content-Length, when it sent a valid one."""
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


class _FilePart:
    """The python-multipart callbacks that write the field ``field`` to ``directory``."""

    def __init__(self, *, field: str, directory: Path, limit_bytes: int) -> None:
        self.field, self.directory, self.limit_bytes = field, directory, limit_bytes
        self.header_name = b""
        self.headers: dict[bytes, bytes] = {}
        self.handle: IO[bytes] | None = None
        self.received: ReceivedFile | None = None
        self.sent_name = ""
        self.size_bytes = 0
        self.digest = hashlib.sha256()

    def callbacks(self) -> MultipartCallbacks:
        return {"on_part_begin": self._begin, "on_header_field": self._field,
                "on_header_value": self._value, "on_headers_finished": self._open,
                "on_part_data": self._data, "on_part_end": self.finish}

    def _begin(self) -> None:
        self.headers, self.header_name = {}, b""

    def _field(self, data: bytes, start: int, end: int) -> None:
        self.header_name = data[start:end].lower()

    def _value(self, data: bytes, start: int, end: int) -> None:
        self.headers[self.header_name] = self.headers.get(self.header_name, b"") + data[start:end]

    def _open(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        if options.get(b"name", b"").decode("latin-1") != self.field or self.received:
            return  # other fields (a CSRF token...) are not files to keep
        self.open_file(options.get(b"filename", b"").decode("utf-8", "replace"))

    def open_file(self, sent_name: str) -> None:
        self.sent_name = sent_name
        self.handle = open(self.directory / safe_filename(sent_name), "wb")  # noqa: SIM115

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self.handle is None:
            return
        self.write(data[start:end])

    def write(self, chunk: bytes) -> None:
        self.size_bytes += len(chunk)
        if self.size_bytes > self.limit_bytes:
            self.close()
            raise UploadTooLarge(safe_filename(self.sent_name), self.limit_bytes)
        self.digest.update(chunk)
        assert self.handle is not None  # only called while a file part is open
        self.handle.write(chunk)

    def finish(self) -> None:
        if self.handle is None:
            return
        path = Path(self.handle.name)
        self.close()
        self.received = ReceivedFile(path=path, sent_name=self.sent_name,
                                     size_bytes=self.size_bytes, sha256=self.digest.hexdigest())

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


async def receive_file(request: Request, *, field: str, directory: Path,
                       limit_bytes: int) -> ReceivedFile:
    """Write the multipart field ``field`` of ``request`` under ``directory``.

    Raises UploadTooLarge as soon as the file passes ``limit_bytes`` (the caller removes
    ``directory``), and InvalidRequest when the body is not a form holding that field.
    """
    content_type, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise InvalidRequest(f"send the file as a multipart form field {field!r} (curl -F "
                             f"{field}=@data.csv)")
    part = _FilePart(field=field, directory=directory, limit_bytes=limit_bytes)
    try:
        if getattr(request, "_form", None) is not None:
            # the session's CSRF check parsed the form already: copy its spooled file
            await _copy_parsed(request, part)
        else:
            parser = MultipartParser(boundary, part.callbacks())
            async for chunk in request.stream():
                parser.write(chunk)
            parser.finalize()
    finally:
        part.close()
    if part.received is None:
        raise InvalidRequest(f"the form has no file field {field!r}; send the table as "
                             f"{field}=@data.csv")
    return part.received


async def _copy_parsed(request: Request, part: _FilePart) -> None:
    upload = (await request.form()).get(part.field)
    if not isinstance(upload, UploadFile):
        return
    part.open_file(upload.filename or "")
    while chunk := await upload.read(_CHUNK_BYTES):
        part.write(chunk)
    part.finish()
