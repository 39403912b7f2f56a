"""How a text table is laid out: its encoding, delimiter and header, and whether every row fits.

Sniffed from a sample of the file, so reading the whole table and streaming it in chunks
(``read.py``) agree on every choice.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import lzma
import math
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from trainforge.errors import EmptyData, UnreadableData

if TYPE_CHECKING:
    from trainforge.data.limits import TableLimits

# "None" is deliberately absent: it is a real category in many tables ("None", "No service")
NA_TOKENS = ("", "NA", "N/A", "n/a", "na", "null", "NULL", "Null", "?", "NaN", "nan", "#N/A")

COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zip")
_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_BLOCK_BYTES = 1 << 20
_SAMPLE_BYTES = 1 << 18
_SAMPLE_LINES = 200
# typographic marks a Western European (cp1252) text commonly holds besides letters
_TYPOGRAPHY = set("“”‘’–—…€«»")


# ---- where the bytes are ----------------------------------------------------------------------
def is_compressed(path: Path) -> bool:
    return path.name.lower().endswith(COMPRESSED_SUFFIXES)


def _zip_member(path: Path) -> IO[bytes]:
    """The one file of a zipped table."""
    with zipfile.ZipFile(path) as archive:  # the member keeps the file open once this closes
        files = [info for info in archive.infolist()
                 if not info.is_dir() and not info.filename.startswith("__MACOSX/")]
        if len(files) != 1:
            raise UnreadableData(str(path), f"the zip holds {len(files)} files, not one table",
                                 "zip the table by itself, or send it unzipped")
        return archive.open(files[0])


def open_binary(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed when it ends in .gz, .bz2, .xz or .zip (one member)."""
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]  # a binary IO in practice
    if name.endswith(".bz2"):
        return bz2.BZ2File(path, "rb")
    if name.endswith(".xz"):
        return lzma.LZMAFile(path, "rb")
    if name.endswith(".zip"):
        return _zip_member(path)
    return path.open("rb")


def _blocks(path: Path) -> Iterator[bytes]:
    with open_binary(path) as stream:
        while block := stream.read(_BLOCK_BYTES):
            yield block


# ---- encoding ---------------------------------------------------------------------------------
def _first_bad_utf8(path: Path) -> tuple[int, bytes] | None:
    """Offset of the first byte that is not UTF-8 and the bytes around it; None if all is UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    for block in _blocks(path):
        try:
            decoder.decode(block)
        except UnicodeDecodeError as error:
            return offset + error.start, block[max(0, error.start - 4096): error.start + 4096]
        offset += len(block)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return offset, b""
    return None


def _letter_share(text: str) -> float:
    """Share of non-ASCII characters that are letters or common typography (1.0 if none)."""
    foreign = [c for c in text if ord(c) > 127]
    if not foreign:
        return 1.0
    return sum(c.isalpha() or c in _TYPOGRAPHY for c in foreign) / len(foreign)


def _is_latin_script(text: str) -> bool:
    return all(ord(c) < 0x250 for c in text if c.isalpha())


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        for block in _blocks(path):
            decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _guess_legacy(sample: bytes) -> str:
    """A single-byte encoding for bytes that are not UTF-8.

    charset-normalizer is unsure on small samples (it reads Western European text as cp775 or
    cp1250), so cp1252 wins unless the detector's guess reads as cleaner text, or as equally
    clean text in a non-Latin script (Cyrillic, Greek…).
    """
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        return "cp1252"
    western, guessed = sample.decode("cp1252", errors="replace"), str(best)
    if _letter_share(western) > _letter_share(guessed):
        return "cp1252"
    if _letter_share(western) == _letter_share(guessed) and _is_latin_script(guessed):
        return "cp1252"
    return str(best.encoding)


def sniff_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when the bytes allow it, else a guessed legacy encoding.

    Raises UnreadableData when the bytes are binary: no text encoding reads them.
    """
    with open_binary(path) as stream:
        head = stream.read(_SAMPLE_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    bad = _first_bad_utf8(path)
    if bad is None:
        return "utf-8"
    if b"\x00" in head:
        raise UnreadableData(str(path), "the file holds binary data, not text",
                             "export the table as CSV, Parquet, JSON or Excel (.xlsx)")
    offset, around = bad
    for encoding in (_guess_legacy(head + around), "cp1252", "latin-1"):
        if _decodes(path, encoding):
            return encoding
    raise UnreadableData(str(path), f"byte {offset} is not text in any encoding tried",
                         "save the file as UTF-8 and read it again")


# ---- delimited text ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TextLayout:
    encoding: str
    delimiter: str
    header: list[str]
    has_header: bool = True


def _sample_lines(path: Path, encoding: str) -> list[str]:
    with open_binary(path) as stream:
        raw = stream.read(_SAMPLE_BYTES)
    text = raw.decode(encoding, errors="replace")
    lines = text.splitlines()
    if len(raw) == _SAMPLE_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line of a cut sample may be partial
    return [line for line in lines[:_SAMPLE_LINES] if line.strip()]


def _sniff_delimiter(lines: Sequence[str], *, tab_first: bool) -> str:
    """The delimiter that splits the sample into the same number (> 1) of fields per line.

    Ties go to the delimiter that gives more fields; one column reads as comma (tab for .tsv).
    Spaces are the last resort: only when every line splits into the same 3 or more fields.
    """
    best, best_score = ("\t" if tab_first else ","), (0.0, 0)
    candidates = ("\t", *[d for d in _DELIMITERS if d != "\t"]) if tab_first else _DELIMITERS
    for delimiter in candidates:
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter, skipinitialspace=True)]
        if not counts:
            continue
        usual, n_lines = Counter(counts).most_common(1)[0]  # a title line must not decide
        if usual < 2:
            continue
        if (n_lines / len(counts), usual) > best_score:
            best, best_score = delimiter, (n_lines / len(counts), usual)
    if best_score == (0.0, 0) and lines:
        counts = [len(line.split()) for line in lines]
        if counts[0] >= 3 and all(count == counts[0] for count in counts):
            return " "
    return best


def delimiter_name(delimiter: str) -> str:
    return _DELIMITERS.get(delimiter, "space")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_year(text: str) -> bool:
    return text.strip().isdigit() and 1800 <= int(text) <= 2100


def _has_header(rows: list[list[str]]) -> bool:
    """False when the first line looks like data: numbers where the next lines have numbers.

    Years as column names (country,2019,2020) still make a header.
    """
    first, following = rows[0], [row for row in rows[1:6] if len(row) == len(rows[0])]
    pattern = [_is_number(field) for field in first]
    if not any(pattern) or not following:
        return True
    if all(_is_year(field) for field, numeric in zip(first, pattern, strict=True) if numeric):
        return True
    for row in following:
        for field, numeric in zip(row, pattern, strict=True):
            if field.strip() not in NA_TOKENS and _is_number(field) != numeric:
                return True
    return False


def check_names(names: Sequence[str], source: str) -> list[str]:
    """Names stripped of whitespace, blank ones named as pandas does; duplicates refused."""
    stripped = [str(name).strip() or f"Unnamed: {i}" for i, name in enumerate(names)]
    repeated = sorted(name for name, count in Counter(stripped).items() if count > 1)
    if repeated:
        shown = ", ".join(repr(name) for name in repeated)
        raise UnreadableData(source, f"the column name(s) {shown} appear more than once",
                             "rename the columns so that each name is unique")
    return stripped


def text_layout(path: Path, fmt: str) -> TextLayout:
    source = str(path)
    with open_binary(path) as stream:
        if not stream.read(_SAMPLE_BYTES).strip():
            raise EmptyData(source, "the file is empty")
    encoding = sniff_encoding(path)
    lines = _sample_lines(path, encoding)
    delimiter = _sniff_delimiter(lines, tab_first=fmt == ".tsv")
    rows = [line.split() for line in lines[:6]] if delimiter == " " else list(
        csv.reader(lines[:6], delimiter=delimiter, skipinitialspace=True))
    if not _has_header(rows):
        names = [f"column_{i}" for i in range(1, len(rows[0]) + 1)]
        return TextLayout(encoding, delimiter, names, has_header=False)
    return TextLayout(encoding, delimiter, check_names(rows[0], source))


def _rows_with_line_numbers(path: Path, layout: TextLayout) -> Iterator[tuple[int, list[str]]]:
    with open_binary(path) as raw:
        text = io.TextIOWrapper(raw, encoding=layout.encoding, newline="")
        if layout.delimiter == " ":  # runs of spaces, and spaces at line ends, separate nothing
            yield from ((number, line.split()) for number, line in enumerate(text, start=1))
            return
        reader = csv.reader(text, delimiter=layout.delimiter, skipinitialspace=True)
        for row in reader:
            yield reader.line_num, row


def check_rows(path: Path, layout: TextLayout, *, limits: TableLimits | None = None) -> None:
    """Every row has the header's field count; with ``limits``, and there are at most
    ``limits.max_rows`` rows (counted as the file streams, so a longer one stops there)."""
    max_rows = limits.max_rows if limits is not None and limits.max_rows is not None else math.inf
    rows = _rows_with_line_numbers(path, layout)
    if layout.has_header:
        next(rows, None)
    n_rows = 0
    for line, row in rows:
        if not row:
            continue
        if len(row) != len(layout.header):
            name = delimiter_name(layout.delimiter)
            raise UnreadableData(
                str(path), f"line {line} has {len(row)} fields but the header has "
                f"{len(layout.header)} ({name}-delimited)",
                f"fix line {line} (quote values that contain a {name}, or remove the "
                "extra/missing fields) and read the file again")
        n_rows += 1
        if n_rows > max_rows and limits is not None:
            limits.check_rows(n_rows, str(path))


def csv_options(layout: TextLayout) -> dict[str, Any]:
    return {"sep": r"\s+" if layout.delimiter == " " else layout.delimiter,
            "encoding": layout.encoding, "dtype": "str",
            "keep_default_na": False, "na_values": list(NA_TOKENS), "skipinitialspace": True,
            "skip_blank_lines": True, "header": 0 if layout.has_header else None,
            "names": layout.header, "engine": "c"}
