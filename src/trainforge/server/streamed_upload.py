"""Receiving one file of a multipart upload straight to disk, with a size limit and its sha256.

The body is parsed as it arrives (python-multipart's streaming parser), so an upload over the
limit is refused at the first byte past it: the client's remaining bytes are never read or
written, and the partial file is removed by the caller. Starlette's ``request.form()`` would
first spool the whole body to a temporary file, which is what a size limit must prevent.

A browser session's CSRF token sent as the form field ``csrf_token`` is checked here too, as
the stream is parsed: it must come before the file (as the web UI's form sends it), so a
forged upload is refused before a byte of its file is written.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from trainforge.errors import CsrfRejected, InvalidRequest, UploadTooLarge
from trainforge.server.auth import CSRF_FIELD, csrf_expected_in_form
from trainforge.store.uploads import safe_filename

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MULTIPART_ALLOWANCE = 64 * 1024  # boundaries, part headers and small fields around the file
_CSRF_MAX_BYTES = 256  # a token is 43 characters; more is not a token


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
    """The python-multipart callbacks that write the field ``field`` to ``directory``, after
    checking the form's CSRF token when ``csrf_expected`` is given."""

    def __init__(self, *, field: str, directory: Path, limit_bytes: int,
                 csrf_expected: str | None, action: str) -> None:
        self.field, self.directory, self.limit_bytes = field, directory, limit_bytes
        self.csrf_expected, self.action = csrf_expected, action
        self.csrf_sent: bytearray | None = None  # the token field's bytes while it is parsed
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
                "on_part_data": self._data, "on_part_end": self._end}

    def _begin(self) -> None:
        self.headers, self.header_name = {}, b""

    def _field(self, data: bytes, start: int, end: int) -> None:
        self.header_name = data[start:end].lower()

    def _value(self, data: bytes, start: int, end: int) -> None:
        self.headers[self.header_name] = self.headers.get(self.header_name, b"") + data[start:end]

    def _open(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("latin-1")
        if name == CSRF_FIELD and self.csrf_expected is not None:
            self.csrf_sent = bytearray()
            return
        if name != self.field or self.received:
            return  # other fields are not files to keep
        if self.csrf_expected is not None:  # the token did not come before the file
            raise CsrfRejected(self.action)
        self.open_file(options.get(b"filename", b"").decode("utf-8", "replace"))

    def open_file(self, sent_name: str) -> None:
        self.sent_name = sent_name
        self.handle = open(self.directory / safe_filename(sent_name), "wb")  # noqa: SIM115

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self.csrf_sent is not None:
            self.csrf_sent += data[start:end]
            if len(self.csrf_sent) > _CSRF_MAX_BYTES:
                raise CsrfRejected(self.action)
        elif self.handle is not None:
            self.write(data[start:end])

    def _end(self) -> None:
        if self.csrf_sent is not None and self.csrf_expected is not None:
            if not hmac.compare_digest(bytes(self.csrf_sent), self.csrf_expected.encode()):
                raise CsrfRejected(self.action)
            self.csrf_expected, self.csrf_sent = None, None  # checked: the file may follow
        self.finish()

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

    Raises UploadTooLarge as soon as the file, or the whole body, passes ``limit_bytes`` (plus
    ``MULTIPART_ALLOWANCE`` for the body; the caller removes ``directory``), CsrfRejected when
    a browser session's ``csrf_token`` field is wrong or does not come before the file, and
    InvalidRequest when the body is not a form holding that field.
    """
    content_type, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    action = f"{request.method} {request.url.path}"
    csrf_expected = csrf_expected_in_form(request)
    if content_type != b"multipart/form-data" or not boundary:
        if csrf_expected is not None:  # a browser session's body without its token
            raise CsrfRejected(action)
        raise InvalidRequest(f"send the file as a multipart form field {field!r} (curl -F "
                             f"{field}=@data.csv)")
    part = _FilePart(field=field, directory=directory, limit_bytes=limit_bytes,
                     csrf_expected=csrf_expected, action=action)
    body_bytes = 0
    try:
        parser = MultipartParser(boundary, part.callbacks())
        async for chunk in request.stream():
            body_bytes += len(chunk)
            if body_bytes > limit_bytes + MULTIPART_ALLOWANCE:  # fields that are not the file
                shown = safe_filename(part.sent_name) if part.sent_name else "the upload"
                raise UploadTooLarge(shown, limit_bytes)
            parser.write(chunk)
        parser.finalize()
    finally:
        part.close()
    if part.csrf_expected is not None:
        raise CsrfRejected(action)
    if part.received is None:
        raise InvalidRequest(f"the form has no file field {field!r}; send the table as "
                             f"{field}=@data.csv")
    return part.received

