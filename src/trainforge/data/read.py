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

import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from trainforge.data.dataset import ColumnKind, Dataset, Schema
from trainforge.data.image_paths import ImageRoots
from trainforge.data.limits import (
    NO_LIMITS,
    TableLimits,
    check_archive,
    check_inflated_size,
    check_parquet,
    check_parquet_text,
    check_shared_text,
)
from trainforge.data.schema import infer_schema
from trainforge.data.sniff import (
    COMPRESSED_SUFFIXES,
    NA_TOKENS,
    check_names,
    check_rows,
    csv_options,
    delimiter_name,
    open_binary,
    sniff_encoding,
    text_layout,
)
from trainforge.errors import (
    ConfigError,
    DataFileNotFound,
    EmptyData,
    UnreadableData,
    UnsupportedFormat,
)

# frame.attrs key: integer columns stored as float64 only because they have missing cells
INTEGER_COLUMNS = "trainforge.integer_columns"

_TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".data", ".dat")  # .data: the UCI archive's tables
_INTEGER_TEXT = r"[+-]?\d+"
# pd.to_numeric holds the GIL for its whole column (~1 µs a value): in slices of this many
# rows, a server reading an upload in a thread still answers its other requests between them
_NUMBERS_SLICE_ROWS = 20_000
_DECIMAL_COMMA = r"[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?"


def _format_of(path: Path) -> str:
    name = path.name.lower()
    stem = next((name.removesuffix(s) for s in COMPRESSED_SUFFIXES if name.endswith(s)), name)
    for suffix in (*_TEXT_SUFFIXES, ".parquet", ".pq", ".jsonl", ".ndjson", ".json", ".xlsx"):
        if stem.endswith(suffix):
            return {".pq": ".parquet", ".ndjson": ".jsonl"}.get(suffix, suffix)
    raise UnsupportedFormat(str(path), "".join(path.suffixes[-2:]) or path.name)


def _existing(path: str | Path) -> Path:
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        raise DataFileNotFound(str(path))
    return resolved


def _read_delimited(path: Path, fmt: str, notes: list[str], limits: TableLimits
                    ) -> pd.DataFrame:
    """The table as text (NA tokens missing), after checking every row's field count."""
    layout = text_layout(path, fmt)
    check_rows(path, layout, limits=limits)
    try:
        with open_binary(path) as raw:
            frame = pd.read_csv(raw, **csv_options(layout))
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise UnreadableData(str(path), f"the file could not be parsed ({error})",
                             "check that it is one table with a header row") from error
    notes.append(f"{delimiter_name(layout.delimiter)}-delimited text, encoding {layout.encoding}"
                 + ("" if layout.has_header else "; no header row, so columns are named "
                    "column_1, column_2, …"))
    frame.attrs["delimiter"] = layout.delimiter
    return frame


def _to_numbers(text: pd.Series, *, errors: Literal["raise", "coerce"] = "raise") -> pd.Series:
    """``pd.to_numeric`` in slices; the same values and dtype as one call (pandas widens the
    slices' int64 to float64 where any slice needed it, as one call would)."""
    if len(text) <= _NUMBERS_SLICE_ROWS:
        return pd.to_numeric(text, errors=errors)
    return pd.concat([pd.to_numeric(text.iloc[start: start + _NUMBERS_SLICE_ROWS], errors=errors)
                      for start in range(0, len(text), _NUMBERS_SLICE_ROWS)])


def _from_decimal_comma(column: pd.Series, present: pd.Series) -> pd.Series | None:
    """Numbers written the European way (1.234,5) as floats; None if the column is not that."""
    if not bool(present.str.contains(",", regex=False).any()):
        return None
    if not bool(present.str.fullmatch(_DECIMAL_COMMA).all()):
        return None
    plain = column.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    return _to_numbers(plain).astype("float64")


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
            numbers = _to_numbers(column)
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
    with open_binary(path) as raw:
        text = raw.read().decode(encoding)
    try:
        records = json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableData(str(path), f"invalid JSON at line {error.lineno}, column "
                             f"{error.colno} ({error.msg})", "fix the JSON there") from error
    return _records_frame(records, str(path))


def _jsonl_chunks(path: Path, encoding: str, chunk_rows: int, *,
                  limits: TableLimits = NO_LIMITS) -> Iterator[pd.DataFrame]:
    with open_binary(path) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding)
        records: list[dict[str, Any]] = []
        n_rows = 0
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
            n_rows += 1
            limits.check_rows(n_rows, str(path))
            if len(records) == chunk_rows:
                yield pd.DataFrame.from_records(records)
                records = []
        if records:
            yield pd.DataFrame.from_records(records)


def _read_excel(path: Path, limits: TableLimits) -> pd.DataFrame:
    from zipfile import BadZipFile

    if limits.max_bytes is not None:  # a workbook is a zip of XML: its directory says how big
        check_archive(path, limits)
    # one row past the limit is enough to know the sheet is over it
    n_rows = None if limits.max_rows is None else limits.max_rows + 1
    try:
        frame = pd.read_excel(path, engine="openpyxl", sheet_name=0, na_values=list(NA_TOKENS),
                              keep_default_na=False, nrows=n_rows)
    except (ValueError, OSError, KeyError, BadZipFile) as error:
        raise UnreadableData(str(path), f"the workbook could not be read ({error})",
                             "save it again as .xlsx, or export the sheet as CSV") from error
    limits.check_rows(len(frame), str(path))
    check_shared_text(frame, limits, str(path))
    return frame


def _read_parquet(path: Path, limits: TableLimits) -> pd.DataFrame:
    """The metadata, then the text columns' expanded size, are checked against ``limits``
    before the table is read."""
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        check_parquet(parquet.metadata, limits, str(path))
        check_parquet_text(path, parquet.schema_arrow, limits)
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
    names = check_names([str(c) for c in frame.columns], source)
    frame = frame.set_axis(names, axis=1)
    for name in names:
        column = frame[name]
        if column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) == "string":
            column = column.astype("str")
        if blank_tokens and pd.api.types.is_string_dtype(column.dtype):
            column = column.where(~column.isin(NA_TOKENS))
        frame[name] = column
    return frame


def _read_file(path: Path, notes: list[str], limits: TableLimits) -> pd.DataFrame:
    fmt = _format_of(path)
    check_inflated_size(path, limits)  # before any reader inflates it
    if fmt in _TEXT_SUFFIXES:
        return _numbers_from_text(_read_delimited(path, fmt, notes, limits))
    if fmt == ".parquet":
        return _tidy(_read_parquet(path, limits), str(path), blank_tokens=False)
    if fmt == ".xlsx":
        return _tidy(_read_excel(path, limits), str(path), blank_tokens=True)
    if path.stat().st_size == 0:
        raise EmptyData(str(path), "the file is empty")
    encoding = sniff_encoding(path)
    notes.append(f"JSON, encoding {encoding}")
    if fmt == ".jsonl":
        chunks = list(_jsonl_chunks(path, encoding, 100_000, limits=limits))
        frame = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame()
    else:
        frame = _read_json(path, encoding)
    return _tidy(frame, str(path), blank_tokens=True)


def read_table(source: str | Path | pd.DataFrame, *, sql: str | None = None,
               notes: list[str] | None = None, limits: TableLimits = NO_LIMITS) -> Dataset:
    """Read a table into a Dataset with its schema and fingerprint.

    Args:
        source: a file path (CSV/TSV/TXT, JSON array of records or JSONL, each optionally
            .gz, .bz2, .xz or a one-file .zip; Parquet; Excel .xlsx), a SQLAlchemy URL when
            ``sql`` is given, or a DataFrame.
        sql: a query to run against ``source``; its result is the table.
        notes: if given, lines saying how the data was read (format, delimiter, encoding,
            size) are appended, for the caller to print.
        limits: the most rows, and decompressed bytes of a compressed file or container, to
            read from a file (the server's limits for uploads); none by default.

    Raises DataFileNotFound, EmptyData, UnreadableData (naming the line of a malformed row,
    or the duplicated column names), UnsupportedFormat and TableTooLarge (past ``limits``,
    found before the data is inflated or as it streams).
    """
    notes = notes if notes is not None else []
    if isinstance(source, pd.DataFrame):
        name = "<DataFrame>"
        frame = _tidy(source.copy(), name, blank_tokens=False)
    elif sql is not None:
        raw, name = _read_sql(str(source), sql)
        frame = _tidy(raw, name, blank_tokens=False)
        notes.append("SQL query result")
    elif Path(source).expanduser().is_dir():
        from trainforge.data.images import read_image_folder

        return read_image_folder(Path(source).expanduser(), notes=notes)
    else:
        path = _existing(source)
        name = str(source)
        frame = _read_file(path, notes, limits)
        limits.check_rows(len(frame), name)
    if frame.shape[0] == 0:
        raise EmptyData(name, "it has a header but no data rows" if frame.shape[1] else
                        "it has no rows")
    notes.append(f"read {len(frame):,} rows × {frame.shape[1]} columns from {name}")
    schema = infer_schema(frame)
    frame = _numeric_columns_as_numbers(frame, schema, notes)
    if not isinstance(source, pd.DataFrame) and sql is None:
        frame = _image_paths_from(Path(source).expanduser().parent, frame, schema)
    return Dataset(frame=frame, schema=schema, source=name)


def _image_paths_from(directory: Path, frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Image paths in a table are relative to the table's folder; make them absolute, so the
    model reads the same files from wherever it runs. Each must stay inside that folder (or
    an administrator's roots) and name a regular file within the size cap (``image_paths``)."""
    columns = [c for c, kind in schema.items() if kind is ColumnKind.IMAGE]
    return resolve_image_columns(frame, columns, table_folder=directory)


def resolve_image_columns(frame: pd.DataFrame, columns: Sequence[str], *, table_folder: Path,
                          first_row: int = 1) -> pd.DataFrame:
    """``frame`` with the image paths of ``columns`` checked and made absolute.

    Raises:
        ImagePathRefused: for the first path that leads outside the allowed folders or to no
            regular file within the size cap, naming its row (``first_row`` is the frame's
            first) and the path as the table wrote it.
    """
    present = [c for c in columns if c in frame.columns]
    if not present:
        return frame
    roots = ImageRoots.for_table(table_folder)
    frame = frame.copy()
    for column in present:
        frame[column] = roots.resolve_column(frame[column].tolist(), column=column,
                                             first_row=first_row)
    return frame


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
        numbers = _to_numbers(column, errors="coerce").astype("float64")
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


def read_chunks(path: str | Path, *, chunk_rows: int,
                image_columns: Sequence[str] = ()) -> Iterator[pd.DataFrame]:
    """Stream a file in frames of at most ``chunk_rows`` rows (batch prediction of big files).

    CSV/TSV stream with the sniffed delimiter and encoding, and a column that is text in the
    first chunk stays text in every chunk; Parquet streams by row batches; JSONL by lines.
    JSON and Excel are read whole, then cut. The paths in ``image_columns`` are checked and
    made absolute as ``read_table`` does (relative to the file's folder).
    """
    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be at least 1 (got {chunk_rows})")
    resolved = _existing(path)
    first_row = 1
    for chunk in _chunks(resolved, str(path), chunk_rows):
        yield resolve_image_columns(chunk, image_columns, table_folder=resolved.parent,
                                    first_row=first_row)
        first_row += len(chunk)


def _chunks(resolved: Path, name: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    fmt = _format_of(resolved)
    if fmt in _TEXT_SUFFIXES:
        yield from _delimited_chunks(resolved, fmt, chunk_rows)
    elif fmt == ".parquet":
        yield from _parquet_chunks(resolved, chunk_rows)
    elif fmt == ".jsonl":
        encoding = sniff_encoding(resolved)
        for chunk in _jsonl_chunks(resolved, encoding, chunk_rows):
            yield _tidy(chunk, name, blank_tokens=True)
    else:
        frame = read_table(resolved).frame
        for start in range(0, len(frame), chunk_rows):
            yield frame.iloc[start: start + chunk_rows]


def _delimited_chunks(path: Path, fmt: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    layout = text_layout(path, fmt)
    keep_text: frozenset[str] | None = None
    try:
        with open_binary(path) as raw, pd.read_csv(raw, chunksize=chunk_rows,
                                                   **csv_options(layout)) as reader:
            for raw in reader:
                raw.attrs["delimiter"] = layout.delimiter
                chunk = _numbers_from_text(raw, keep_text=keep_text or frozenset())
                if keep_text is None:  # the first chunk decides which columns are text
                    keep_text = frozenset(n for n in chunk.columns
                                          if pd.api.types.is_string_dtype(chunk[n].dtype))
                yield chunk
    except pd.errors.ParserError as error:
        check_rows(path, layout)  # names the malformed line
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
