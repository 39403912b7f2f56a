"""Images in requests: base64 strings in JSON, or files in a multipart form.

A served model never reads a path a request names: an image arrives as its bytes (base64 in
JSON, or an uploaded file), so a request cannot make the server open a file of its own.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from trainforge.algorithms.model import FeatureSpec
from trainforge.errors import InvalidRequest
from trainforge.serving.signature import Columns, Signature

MAX_FILES = 1_000  # images in one multipart request


def image_bytes(values: Sequence[Any], *, field: str) -> list[bytes | None]:
    """Each value as image bytes: bytes as they are, base64 text decoded (a ``data:`` URL
    prefix allowed), null kept missing. Raises InvalidRequest naming the field and record."""
    decoded: list[bytes | None] = []
    for row, value in enumerate(values):
        if value is None or isinstance(value, bytes):
            decoded.append(value)
            continue
        text = str(value)
        if text.startswith("data:"):
            text = text.partition(",")[2]
        try:
            decoded.append(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError):
            raise InvalidRequest(f"field {field!r} of record {row} is not base64-encoded image "
                                 "bytes; send the file's bytes in base64 (or upload it as a "
                                 "multipart file)") from None
    return decoded


def with_image_bytes(columns: Columns, features: Sequence[FeatureSpec]) -> Columns:
    """``columns`` with every image feature's values turned into bytes."""
    images = [spec.name for spec in features if spec.dtype == "image"]
    if not images:
        return columns
    values = dict(columns.values)
    for name in images:
        values[name] = image_bytes(values[name], field=name)
    return Columns(values=values, n_rows=columns.n_rows, ignored_fields=columns.ignored_fields)


def is_multipart(scope: Mapping[str, Any]) -> bool:
    for key, value in scope.get("headers", ()):
        if key == b"content-type":
            return bool(value.startswith(b"multipart/form-data"))
    return False


async def columns_from_form(scope: Any, receive: Any, signature: Signature) -> Columns:
    """One record per uploaded file (under the image feature's name, or any name when the
    model has one image feature); other form fields give the same value to every record."""
    from starlette.datastructures import UploadFile
    from starlette.requests import Request

    images = [spec.name for spec in signature.features if spec.dtype == "image"]
    if not images:
        raise InvalidRequest("this model takes no images; send JSON records instead")
    form = await Request(scope, receive).form(max_files=MAX_FILES, max_fields=MAX_FILES)
    uploads: list[bytes] = []
    fields: dict[str, Any] = {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if key != images[0] and len(images) > 1:
                raise InvalidRequest(f"uploaded file field {key!r} is not one of the model's "
                                     f"image features ({', '.join(images)})")
            uploads.append(await value.read())
        else:
            fields[key] = value
    if not uploads:
        raise InvalidRequest(f"the form holds no file; upload images under {images[0]!r}")
    placeholder = {images[0]: ""}
    records = [{**fields, **placeholder} for _ in uploads]
    columns = signature.parse_records(records, loc=("form",))
    values = dict(columns.values)
    values[images[0]] = list(uploads)
    return Columns(values=values, n_rows=len(uploads), ignored_fields=columns.ignored_fields)
