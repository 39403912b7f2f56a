"""Small files that inflate into big tables: what the upload and reader limits are tested on."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zipfile
from collections.abc import Callable

MIB = 2**20
HEADER, ROW = b"a,b,c,d\n", b"1,2,3,4\n"


def csv_bytes(n_bytes: int) -> bytes:
    """A four-column CSV of about ``n_bytes``: it compresses about 1000 to 1."""
    return HEADER + ROW * (n_bytes // len(ROW))


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


# a table file's suffix → how to compress a CSV into it
COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    ".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress,
    ".zip": lambda content: zipped({"table.csv": content})}
