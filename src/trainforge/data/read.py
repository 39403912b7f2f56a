"""Read any table (CSV/TSV, Parquet, JSON/JSONL, Excel, SQL, a DataFrame) into a Dataset.

    >>> notes: list[str] = []
    >>> dataset = read_table("examples/adult.csv", notes=notes)
    >>> print(*notes, sep="\\n")
    comma-delimited text, encoding utf-8
    read 32,561 rows × 15 columns from examples/adult.csv

Text files are read as text first and numbers are recognised afterwards, so every reader and
every chunk of a streamed file agree on a column's type, and class labels keep the spelling
they have in the file. Missing values: empty cells and the NA tokens in ``NA_TOKENS``.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from trainforge.data.dataset import ColumnKind, Dataset, Schema
from trainforge.data.schema import infer_schema
from trainforge.errors import (
    ConfigError,
    DataFileNotFound,
    EmptyData,
    UnreadableData,
    UnsupportedFormat,
)

# "None" is deliberately absent: it is a real category in many tables ("None", "No service")
NA_TOKENS = ("", "NA", "N/A", "n/a", "na", "null", "NULL", "Null", "?", "NaN", "nan", "#N/A")
# frame.attrs key: integer columns stored as float64 only because they have missing cells
INTEGER_COLUMNS = "trainforge.integer_columns"

_TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".data", ".dat")  # .data: the UCI archive's tables
_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_BLOCK_BYTES = 1 << 20
_SAMPLE_BYTES = 1 << 18
_SAMPLE_LINES = 200
# typographic marks a Western European (cp1252) text commonly holds besides letters
_TYPOGRAPHY = set("“”‘’–—…€«»")
_INTEGER_TEXT = r"[+-]?\d+"
_DECIMAL_COMMA = r"[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?"


# ---- where the bytes are ----------------------------------------------------------------------
def _format_of(path: Path) -> str:
    name = path.name.lower()
    stem = name.removesuffix(".gz")
    for suffix in (*_TEXT_SUFFIXES, ".parquet", ".pq", ".jsonl", ".ndjson", ".json", ".xlsx"):
        if stem.endswith(suffix):
            return {".pq": ".parquet", ".ndjson": ".jsonl"}.get(suffix, suffix)
    raise UnsupportedFormat(str(path), "".join(path.suffixes[-2:]) or path.name)


def _existing(path: str | Path) -> Path:
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        raise DataFileNotFound(str(path))
    return resolved


def _open_binary(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed when it ends in .gz."""
    if path.name.lower().endswith(".gz"):
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]  # a binary IO in practice
    return path.open("rb")


def _blocks(path: Path) -> Iterator[bytes]:
    with _open_binary(path) as stream:
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


def _sniff_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when the bytes allow it, else a guessed legacy encoding.

    Raises UnreadableData when the bytes are binary: no text encoding reads them.
    """
    with _open_binary(path) as stream:
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
class _TextLayout:
    encoding: str
    delimiter: str
    header: list[str]
    has_header: bool = True


def _sample_lines(path: Path, encoding: str) -> list[str]:
    with _open_binary(path) as stream:
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


def _delimiter_name(delimiter: str) -> str:
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


def _check_names(names: Sequence[str], source: str) -> list[str]:
    """Names stripped of whitespace, blank ones named as pandas does; duplicates refused."""
    stripped = [str(name).strip() or f"Unnamed: {i}" for i, name in enumerate(names)]
    repeated = sorted(name for name, count in Counter(stripped).items() if count > 1)
    if repeated:
        shown = ", ".join(repr(name) for name in repeated)
        raise UnreadableData(source, f"the column name(s) {shown} appear more than once",
                             "rename the columns so that each name is unique")
    return stripped


def _text_layout(path: Path, fmt: str) -> _TextLayout:
    source = str(path)
    with _open_binary(path) as stream:
        if not stream.read(_SAMPLE_BYTES).strip():
            raise EmptyData(source, "the file is empty")
    encoding = _sniff_encoding(path)
    lines = _sample_lines(path, encoding)
    delimiter = _sniff_delimiter(lines, tab_first=fmt == ".tsv")
    rows = [line.split() for line in lines[:6]] if delimiter == " " else list(
        csv.reader(lines[:6], delimiter=delimiter, skipinitialspace=True))
    if not _has_header(rows):
        names = [f"column_{i}" for i in range(1, len(rows[0]) + 1)]
        return _TextLayout(encoding, delimiter, names, has_header=False)
    return _TextLayout(encoding, delimiter, _check_names(rows[0], source))


def _rows_with_line_numbers(path: Path, layout: _TextLayout) -> Iterator[tuple[int, list[str]]]:
    with _open_binary(path) as raw:
        text = io.TextIOWrapper(raw, encoding=layout.encoding, newline="")
        if layout.delimiter == " ":  # runs of spaces, and spaces at line ends, separate nothing
            yield from ((number, line.split()) for number, line in enumerate(text, start=1))
            return
        reader = csv.reader(text, delimiter=layout.delimiter, skipinitialspace=True)
        for row in reader:
            yield reader.line_num, row


def _first_bad_row(path: Path, layout: _TextLayout) -> tuple[int, int] | None:
    """(line number, field count) of the first row whose field count differs from the header."""
    rows = _rows_with_line_numbers(path, layout)
    if layout.has_header:
        next(rows, None)
    for line, row in rows:
        if row and len(row) != len(layout.header):
            return line, len(row)
    return None


def _check_rows(path: Path, layout: _TextLayout) -> None:
    bad = _first_bad_row(path, layout)
    if bad is not None:
        line, n_fields = bad
        raise UnreadableData(
            str(path), f"line {line} has {n_fields} fields but the header has "
            f"{len(layout.header)} ({_delimiter_name(layout.delimiter)}-delimited)",
            f"fix line {line} (quote values that contain a {_delimiter_name(layout.delimiter)}, "
            "or remove the extra/missing fields) and read the file again")


def _csv_options(layout: _TextLayout) -> dict[str, Any]:
    return {"sep": r"\s+" if layout.delimiter == " " else layout.delimiter,
            "encoding": layout.encoding, "dtype": "str",
            "keep_default_na": False, "na_values": list(NA_TOKENS), "skipinitialspace": True,
            "skip_blank_lines": True, "header": 0 if layout.has_header else None,
            "names": layout.header, "engine": "c"}


def _read_delimited(path: Path, fmt: str, notes: list[str]) -> pd.DataFrame:
    """The table as text (NA tokens missing), after checking every row's field count."""
    layout = _text_layout(path, fmt)
    _check_rows(path, layout)
    try:
        frame = pd.read_csv(path, **_csv_options(layout))
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise UnreadableData(str(path), f"the file could not be parsed ({error})",
                             "check that it is one table with a header row") from error
    notes.append(f"{_delimiter_name(layout.delimiter)}-delimited text, encoding {layout.encoding}"
                 + ("" if layout.has_header else "; no header row, so columns are named "
                    "column_1, column_2, …"))
    frame.attrs["delimiter"] = layout.delimiter
    return frame


def _from_decimal_comma(column: pd.Series, present: pd.Series) -> pd.Series | None:
    """Numbers written the European way (1.234,5) as floats; None if the column is not that."""
    if not bool(present.str.contains(",", regex=False).any()):
        return None
    if not bool(present.str.fullmatch(_DECIMAL_COMMA).all()):
        return None
    plain = column.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    return pd.to_numeric(plain).astype("float64")


def _numbers_from_text(frame: pd.DataFrame, *, keep_text: frozenset[str] = frozenset()
                       ) -> pd.DataFrame:
    """Columns whose every value is a number become int64/float64; the rest stay text.

    Integer columns with missing cells become float64 and are listed in
    ``attrs[INTEGER_COLUMNS]`` so their labels can be written back as in the file ("1", not
    "1.0"). In a file not delimited by commas, numbers may use a decimal comma (3,5).
    Columns named in ``keep_text`` stay text whatever they hold.
    """
    decimal_comma = frame.attrs.get("delimiter", ",") != ","
    integer_with_gaps: list[str] = []
    out: dict[str, pd.Series] = {}
    for name in frame.columns:
        column = frame[name]
        present = column.dropna()
        if name in keep_text:
            out[name] = column
            continue
        if present.empty:
            out[name] = pd.Series(np.nan, index=frame.index, dtype="float64")
            continue
        try:
            pd.to_numeric(present.head(100))  # fails fast on a column of words
            numbers = pd.to_numeric(column)
        except (ValueError, TypeError):
            european = _from_decimal_comma(column, present) if decimal_comma else None
            out[name] = column if european is None else european
            continue
        if numbers.dtype == "float64" and bool(present.str.fullmatch(_INTEGER_TEXT).all()):
            integer_with_gaps.append(str(name))
        out[name] = numbers
    result = pd.DataFrame(out, index=frame.index)
    result.attrs[INTEGER_COLUMNS] = integer_with_gaps
    return result


# ---- other formats ----------------------------------------------------------------------------
def _records_frame(records: Any, source: str) -> pd.DataFrame:
    if isinstance(records, dict) and records and all(isinstance(v, list)
                                                     for v in records.values()):
        return pd.DataFrame(records)
    if isinstance(records, list) and all(isinstance(r, dict) for r in records):
        return pd.DataFrame.from_records(records)
    raise UnreadableData(source, "the JSON is not a table",
                         'write an array of records ([{"column": value, …}, …]) or JSON Lines')


def _read_json(path: Path, encoding: str) -> pd.DataFrame:
    with _open_binary(path) as raw:
        text = raw.read().decode(encoding)
    try:
        records = json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableData(str(path), f"invalid JSON at line {error.lineno}, column "
                             f"{error.colno} ({error.msg})", "fix the JSON there") from error
    return _records_frame(records, str(path))


def _jsonl_chunks(path: Path, encoding: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    with _open_binary(path) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding)
        records: list[dict[str, Any]] = []
        for line_number, line in enumerate(text, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise UnreadableData(str(path), f"line {line_number} is not valid JSON "
                                     f"({error.msg})", f"fix line {line_number}") from error
            if not isinstance(record, dict):
                raise UnreadableData(str(path), f"line {line_number} is not a JSON object",
                                     'write one record ({"column": value, …}) per line')
            records.append(record)
            if len(records) == chunk_rows:
                yield pd.DataFrame.from_records(records)
                records = []
        if records:
            yield pd.DataFrame.from_records(records)


def _read_excel(path: Path) -> pd.DataFrame:
    from zipfile import BadZipFile

    try:
        return pd.read_excel(path, engine="openpyxl", sheet_name=0, na_values=list(NA_TOKENS),
                             keep_default_na=False)
    except (ValueError, OSError, KeyError, BadZipFile) as error:
        raise UnreadableData(str(path), f"the workbook could not be read ({error})",
                             "save it again as .xlsx, or export the sheet as CSV") from error


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as error:
        raise UnreadableData(str(path), f"the Parquet file could not be read ({error})",
                             "check that the file is complete (not truncated)") from error


def _read_sql(url: str, query: str) -> tuple[pd.DataFrame, str]:
    import sqlalchemy
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    try:
        engine = sqlalchemy.create_engine(url)
    except (ArgumentError, ValueError) as error:
        raise UnreadableData(url, "this is not a database URL",
                             "give a SQLAlchemy URL such as sqlite:///data.db or "
                             "postgresql+psycopg://user@host/db") from error
    source = f"{engine.url.render_as_string(hide_password=True)} ({query.strip()[:60]})"
    try:
        with engine.connect() as connection:
            frame = pd.read_sql_query(sqlalchemy.text(query), connection)
    except (SQLAlchemyError, pd.errors.DatabaseError) as error:
        cause = error.__cause__ or error
        raise UnreadableData(source, f"the query failed ({str(cause).splitlines()[0]})",
                             "check the query and the table names") from error
    finally:
        engine.dispose()
    return frame, source


# ---- shared finishing -------------------------------------------------------------------------
def _tidy(frame: pd.DataFrame, source: str, *, blank_tokens: bool) -> pd.DataFrame:
    """Strip names, refuse duplicates, store strings as pandas ``str``; NA tokens are missing."""
    names = _check_names([str(c) for c in frame.columns], source)
    frame = frame.set_axis(names, axis=1)
    for name in names:
        column = frame[name]
        if column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) == "string":
            column = column.astype("str")
        if blank_tokens and pd.api.types.is_string_dtype(column.dtype):
            column = column.where(~column.isin(NA_TOKENS))
        frame[name] = column
    return frame


def _read_file(path: Path, notes: list[str]) -> pd.DataFrame:
    fmt = _format_of(path)
    if fmt in _TEXT_SUFFIXES:
        return _numbers_from_text(_read_delimited(path, fmt, notes))
    if fmt == ".parquet":
        return _tidy(_read_parquet(path), str(path), blank_tokens=False)
    if fmt == ".xlsx":
        return _tidy(_read_excel(path), str(path), blank_tokens=True)
    if path.stat().st_size == 0:
        raise EmptyData(str(path), "the file is empty")
    encoding = _sniff_encoding(path)
    notes.append(f"JSON, encoding {encoding}")
    if fmt == ".jsonl":
        chunks = list(_jsonl_chunks(path, encoding, 100_000))
        frame = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame()
    else:
        frame = _read_json(path, encoding)
    return _tidy(frame, str(path), blank_tokens=True)


def read_table(source: str | Path | pd.DataFrame, *, sql: str | None = None,
               notes: list[str] | None = None) -> Dataset:
    """Read a table into a Dataset with its schema and fingerprint.

    Args:
        source: a file path (CSV/TSV/TXT, optionally .gz; Parquet; JSON array of records;
            JSONL; Excel .xlsx), a SQLAlchemy URL when ``sql`` is given, or a DataFrame.
        sql: a query to run against ``source``; its result is the table.
        notes: if given, lines saying how the data was read (format, delimiter, encoding,
            size) are appended, for the caller to print.

    Raises DataFileNotFound, EmptyData, UnreadableData (naming the line of a malformed row,
    or the duplicated column names) and UnsupportedFormat.
    """
    notes = notes if notes is not None else []
    if isinstance(source, pd.DataFrame):
        name = "<DataFrame>"
        frame = _tidy(source.copy(), name, blank_tokens=False)
    elif sql is not None:
        raw, name = _read_sql(str(source), sql)
        frame = _tidy(raw, name, blank_tokens=False)
        notes.append("SQL query result")
    else:
        path = _existing(source)
        name = str(source)
        frame = _read_file(path, notes)
    if frame.shape[0] == 0:
        raise EmptyData(name, "it has a header but no data rows" if frame.shape[1] else
                        "it has no rows")
    notes.append(f"read {len(frame):,} rows × {frame.shape[1]} columns from {name}")
    schema = infer_schema(frame)
    return Dataset(frame=_numeric_columns_as_numbers(frame, schema, notes), schema=schema,
                   source=name)


def _numeric_columns_as_numbers(frame: pd.DataFrame, schema: Schema, notes: list[str]
                                ) -> pd.DataFrame:
    """Numeric columns written as text with a few junk values become float64, junk missing.

    After this a NUMERIC column always has a numeric dtype, whatever the source.
    """
    integer_columns = list(frame.attrs.get(INTEGER_COLUMNS, []))
    for name, kind in schema.items():
        column = frame[name]
        if kind is not ColumnKind.NUMERIC or pd.api.types.is_numeric_dtype(column.dtype):
            continue
        numbers = pd.to_numeric(column, errors="coerce").astype("float64")
        junk = column[numbers.isna() & column.notna()].astype("str")
        if len(junk):
            shown = ", ".join(repr(v) for v in junk.unique()[:3])
            notes.append(f"column {name!r} holds numbers; {len(junk):,} values that are not "
                         f"numbers ({shown}) were read as missing")
        if bool(column[numbers.notna()].astype("str").str.fullmatch(_INTEGER_TEXT).all()):
            integer_columns.append(name)
        frame = frame.assign(**{name: numbers})
    frame.attrs[INTEGER_COLUMNS] = integer_columns
    return frame


def read_chunks(path: str | Path, *, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Stream a file in frames of at most ``chunk_rows`` rows (batch prediction of big files).

    CSV/TSV stream with the sniffed delimiter and encoding, and a column that is text in the
    first chunk stays text in every chunk; Parquet streams by row batches; JSONL by lines.
    JSON and Excel are read whole, then cut.
    """
    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be at least 1 (got {chunk_rows})")
    resolved = _existing(path)
    fmt = _format_of(resolved)
    if fmt in _TEXT_SUFFIXES:
        yield from _delimited_chunks(resolved, fmt, chunk_rows)
    elif fmt == ".parquet":
        yield from _parquet_chunks(resolved, chunk_rows)
    elif fmt == ".jsonl":
        encoding = _sniff_encoding(resolved)
        for chunk in _jsonl_chunks(resolved, encoding, chunk_rows):
            yield _tidy(chunk, str(path), blank_tokens=True)
    else:
        frame = read_table(resolved).frame
        for start in range(0, len(frame), chunk_rows):
            yield frame.iloc[start: start + chunk_rows]


def _delimited_chunks(path: Path, fmt: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    layout = _text_layout(path, fmt)
    keep_text: frozenset[str] | None = None
    try:
        with pd.read_csv(path, chunksize=chunk_rows, **_csv_options(layout)) as reader:
            for raw in reader:
                raw.attrs["delimiter"] = layout.delimiter
                chunk = _numbers_from_text(raw, keep_text=keep_text or frozenset())
                if keep_text is None:  # the first chunk decides which columns are text
                    keep_text = frozenset(n for n in chunk.columns
                                          if pd.api.types.is_string_dtype(chunk[n].dtype))
                yield chunk
    except pd.errors.ParserError as error:
        _check_rows(path, layout)  # names the malformed line
        raise UnreadableData(str(path), f"the file could not be parsed ({error})",
                             "check that it is one table with a header row") from error


def _parquet_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (OSError, ValueError) as error:
        raise UnreadableData(str(path), f"the Parquet file could not be read ({error})",
                             "check that the file is complete (not truncated)") from error
    for batch in parquet.iter_batches(batch_size=chunk_rows):
        yield _tidy(batch.to_pandas(), str(path), blank_tokens=False)
