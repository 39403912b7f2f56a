"""How big a table may get once read, and the checks that stop a reader at that size.

A few KB of gzip, zip, an Excel workbook or Parquet can expand to gigabytes of table (a
"bomb"). The server reads uploads with ``TableLimits``; each check here runs before the data is
inflated (a zip's directory, Parquet's metadata) or while it streams (stopping at the first
byte or row past the limit), so what a refused file costs is bounded by the limit, never by
what it would expand to. A user's own files (CLI, SDK) are read with ``NO_LIMITS``.

    >>> TableLimits(max_rows=10).check_rows(11, "big.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    trainforge.errors.TableTooLarge: 'big.csv' is over the limit of 10 rows; ...
"""

from __future__ import annotations

import lzma
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trainforge.data.sniff import is_compressed, open_binary
from trainforge.errors import TableTooLarge, UnreadableData

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

# a table's zip holds one file and a workbook a few dozen; thousands of members is an archive
# whose directory alone would cost memory to parse
MAX_ARCHIVE_MEMBERS = 1000
_BLOCK_BYTES = 1 << 20
_END_OF_DIRECTORY = b"PK\x05\x06"
_END_RECORD_BYTES = 22
_COMMENT_MAX_BYTES = 0xFFFF
# what a damaged compressed stream raises, by format
_DAMAGED = (OSError, EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile, ValueError)


def mib(n_bytes: float) -> str:
    """``10485760`` → ``'10 MiB'``; fractions of a MiB keep two decimals."""
    return f"{round(n_bytes / 2**20, 2):,g} MiB"


@dataclass(frozen=True)
class TableLimits:
    """The most a read table may hold; None is no limit.

    ``*_setting`` says, in the error, how the reader's caller raises each limit (the server
    names its flags).
    """

    max_bytes: int | None = None  # decompressed bytes of a compressed file, zip or container
    max_rows: int | None = None
    bytes_setting: str = "`TableLimits(max_bytes=...)`"
    rows_setting: str = "`TableLimits(max_rows=...)`"

    def check_rows(self, n_rows: int, source: str) -> None:
        if self.max_rows is not None and n_rows > self.max_rows:
            raise TableTooLarge(source, limit=f"{self.max_rows:,} rows",
                                setting=self.rows_setting)

    def check_bytes(self, n_bytes: int, source: str) -> None:
        if self.max_bytes is not None and n_bytes > self.max_bytes:
            raise TableTooLarge(source, limit=f"{mib(self.max_bytes)} decompressed",
                                setting=self.bytes_setting)


NO_LIMITS = TableLimits()


def check_inflated_size(path: Path, limits: TableLimits) -> None:
    """Decompress ``path`` (.gz, .bz2, .xz, .zip) once without keeping it, and stop at the first
    byte past ``max_bytes``: the readers that inflate it afterwards then stay under it."""
    if limits.max_bytes is None or not is_compressed(path):
        return
    if path.name.lower().endswith(".zip"):
        check_archive(path, limits)
    seen = 0
    try:
        with open_binary(path) as stream:
            while block := stream.read(min(_BLOCK_BYTES, limits.max_bytes + 1 - seen)):
                seen += len(block)
                limits.check_bytes(seen, str(path))
    except _DAMAGED as error:
        raise UnreadableData(str(path), f"the compressed file is damaged ({error})",
                             "compress the table again and send the new file") from error


def _declared_members(path: Path) -> int:
    """How many members the zip's end record declares: read before the directory is parsed."""
    with path.open("rb") as file:
        size = file.seek(0, 2)
        file.seek(max(0, size - _END_RECORD_BYTES - _COMMENT_MAX_BYTES))
        tail = file.read()
    at = tail.rfind(_END_OF_DIRECTORY)
    if at < 0 or len(tail) - at < _END_RECORD_BYTES:
        raise UnreadableData(str(path), "it is not a zip archive (no end of directory)",
                             "send the table itself, or a zip made by a zip tool")
    members: int = struct.unpack_from("<H", tail, at + 10)[0]  # 0xFFFF: a zip64 of more
    return members


def check_archive(path: Path, limits: TableLimits) -> None:
    """A zip (or a workbook, which is one): at most MAX_ARCHIVE_MEMBERS members, and the sizes
    its directory declares (zipfile never yields more than declared) within ``max_bytes``."""
    members = _declared_members(path)
    if members > MAX_ARCHIVE_MEMBERS:
        raise UnreadableData(str(path), f"the archive holds {members:,} files (at most "
                             f"{MAX_ARCHIVE_MEMBERS:,} are read)",
                             "send the table alone, or zipped by itself")
    try:
        with zipfile.ZipFile(path) as archive:
            declared = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as error:
        raise UnreadableData(str(path), f"the archive is damaged ({error})",
                             "save or zip the table again") from error
    limits.check_bytes(declared, str(path))


def check_parquet(metadata: pq.FileMetaData, limits: TableLimits, source: str) -> None:
    """Rows and uncompressed column-chunk bytes from Parquet's footer, before any data page."""
    limits.check_rows(metadata.num_rows, source)
    limits.check_bytes(sum(group.column(i).total_uncompressed_size
                           for group in map(metadata.row_group, range(metadata.num_row_groups))
                           for i in range(group.num_columns)), source)


def _is_text(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind)
                or pa.types.is_binary(kind) or pa.types.is_large_binary(kind))


def check_parquet_text(path: Path, schema: pa.Schema, limits: TableLimits) -> None:
    """The bytes Parquet's text columns hold once each row has its own copy of its value: a
    dictionary-encoded column may repeat one huge value in every row of a small file. The
    columns are read still encoded (values once, then an index per row) to size them."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    text = [field.name for field in schema if _is_text(field.type)]
    if limits.max_bytes is None or not text:
        return
    expanded = 0
    for column in pq.read_table(path, columns=text, read_dictionary=text).columns:
        for chunk in column.chunks:
            lengths = pc.binary_length(chunk.dictionary)
            expanded += int(pc.sum(pc.take(lengths, chunk.indices)).as_py() or 0)
            limits.check_bytes(expanded, str(path))


def check_shared_text(frame: pd.DataFrame, limits: TableLimits, source: str) -> None:
    """The text bytes of a workbook's cells once each has its own copy: a sheet's cells share
    its strings, so a small file may repeat one huge string in every cell."""
    if limits.max_bytes is None:
        return
    expanded = 0
    for name in frame.columns:
        if frame[name].dtype == object:
            expanded += sum(len(value) for value in frame[name] if isinstance(value, str))
            limits.check_bytes(expanded, source)

