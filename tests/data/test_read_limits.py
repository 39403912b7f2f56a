"""Reading within limits: a small compressed or container file that expands past them is
refused before (or as soon as) it is inflated, whatever its format."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests._bombs import COMPRESSORS, MIB, csv_bytes, zipped

from trainforge.data.limits import MAX_ARCHIVE_MEMBERS, TableLimits
from trainforge.data.read import read_table
from trainforge.errors import TableTooLarge, UnreadableData


@pytest.mark.parametrize("suffix", list(COMPRESSORS))
def test_a_compressed_csv_past_the_byte_limit_is_refused_naming_the_limit(write, suffix: str):
    bomb = write(f"bomb.csv{suffix}", COMPRESSORS[suffix](csv_bytes(3 * MIB)))
    assert bomb.stat().st_size < MIB / 10
    with pytest.raises(TableTooLarge, match=r"limit of 1 MiB decompressed.*max_bytes"):
        read_table(bomb, limits=TableLimits(max_bytes=MIB))


@pytest.mark.parametrize("suffix", list(COMPRESSORS))
def test_a_compressed_csv_within_the_limits_reads_as_the_plain_one(write, suffix: str):
    content = b"name,age\nAna,31\nBo,45\n"
    dataset = read_table(write(f"people.csv{suffix}", COMPRESSORS[suffix](content)),
                         limits=TableLimits(max_bytes=MIB, max_rows=2))
    assert dataset.frame.to_dict("list") == {"name": ["Ana", "Bo"], "age": [31, 45]}


def test_a_gzip_stream_is_never_inflated_past_the_limit(write):
    # the bytes after the first 2 MiB are damaged: a reader that inflated them would fail
    whole = gzip.compress(csv_bytes(4 * MIB))
    bomb = write("bomb.csv.gz", whole[: len(whole) // 2] + b"\x00" * 64)
    with pytest.raises(TableTooLarge):
        read_table(bomb, limits=TableLimits(max_bytes=MIB))


def test_a_zip_of_many_files_past_the_byte_limit_is_refused_before_any_is_inflated(write):
    members = {f"part{i}.csv": csv_bytes(MIB // 4) for i in range(16)}
    with pytest.raises(TableTooLarge, match="limit of 1 MiB decompressed"):
        read_table(write("parts.csv.zip", zipped(members)), limits=TableLimits(max_bytes=MIB))


def test_a_zip_of_more_files_than_an_archive_may_hold_is_refused_before_its_directory_is_read(
        write):
    members = {f"{i}.csv": b"" for i in range(MAX_ARCHIVE_MEMBERS + 1)}
    with pytest.raises(UnreadableData, match=f"{MAX_ARCHIVE_MEMBERS + 1:,} files"):
        read_table(write("many.csv.zip", zipped(members)), limits=TableLimits(max_bytes=MIB))


def test_a_zip_of_two_tables_says_to_zip_one(write):
    members = {"a.csv": b"x,y\n1,2\n", "b.csv": b"x,y\n3,4\n"}
    with pytest.raises(UnreadableData, match="holds 2 files, not one table"):
        read_table(write("two.csv.zip", zipped(members)))


def test_a_csv_with_more_rows_than_the_limit_is_refused_naming_it(write):
    with pytest.raises(TableTooLarge, match=r"limit of 1,000 rows.*max_rows"):
        read_table(write("long.csv", csv_bytes(8 * 1001)), limits=TableLimits(max_rows=1000))


def test_a_csv_with_exactly_the_row_limit_is_read(write):
    dataset = read_table(write("long.csv", csv_bytes(8 * 1000)), limits=TableLimits(max_rows=1000))
    assert len(dataset.frame) == 1000


@pytest.mark.parametrize("name, content", [
    ("long.jsonl", b'{"a": 1}\n' * 11),
    ("long.json", b"[" + b",".join([b'{"a": 1}'] * 11) + b"]")])
def test_json_with_more_rows_than_the_limit_is_refused(write, name: str, content: bytes):
    with pytest.raises(TableTooLarge, match="limit of 10 rows"):
        read_table(write(name, content), limits=TableLimits(max_rows=10))


def workbook(path: Path, rows: list[list[object]]) -> Path:
    pd.DataFrame(rows[1:], columns=rows[0]).to_excel(path, index=False)
    return path


def test_a_workbook_with_more_rows_than_the_limit_is_refused(tmp_path):
    book = workbook(tmp_path / "long.xlsx", [["a", "b"], *[[i, i] for i in range(50)]])
    with pytest.raises(TableTooLarge, match="limit of 20 rows"):
        read_table(book, limits=TableLimits(max_rows=20))


def test_a_workbook_whose_xml_is_past_the_byte_limit_is_refused_before_it_is_parsed(tmp_path):
    book = workbook(tmp_path / "wide.xlsx", [["a", "b", "c"], *[[i, i, i] for i in range(5000)]])
    assert book.stat().st_size < MIB / 2
    with pytest.raises(TableTooLarge, match="limit of 0.1 MiB decompressed"):
        read_table(book, limits=TableLimits(max_bytes=MIB // 10))


def test_a_workbook_repeating_one_long_string_in_every_cell_is_refused(tmp_path):
    # cells share the sheet's strings: the file stays small, a copy per cell would not
    book = workbook(tmp_path / "shared.xlsx", [["a"], *[["x" * 30_000] for _ in range(100)]])
    assert book.stat().st_size < MIB / 10
    with pytest.raises(TableTooLarge, match="limit of 1 MiB decompressed"):
        read_table(book, limits=TableLimits(max_bytes=MIB))


def test_a_parquet_file_with_more_rows_than_the_limit_is_refused_from_its_metadata(tmp_path):
    path = tmp_path / "long.parquet"
    pq.write_table(pa.table({"a": [0] * 100_000}), path)
    assert path.stat().st_size < MIB / 10
    with pytest.raises(TableTooLarge, match="limit of 1,000 rows"):
        read_table(path, limits=TableLimits(max_rows=1000))


def test_a_parquet_file_whose_columns_inflate_past_the_limit_is_refused_from_its_metadata(
        tmp_path):
    path = tmp_path / "wide.parquet"
    pq.write_table(pa.table({"a": list(range(200_000)), "b": list(range(200_000))}), path,
                   compression="zstd", use_dictionary=False)
    with pytest.raises(TableTooLarge, match="limit of 1 MiB decompressed"):
        read_table(path, limits=TableLimits(max_bytes=MIB))


def test_a_parquet_column_repeating_one_long_string_is_refused_before_it_is_copied(tmp_path):
    path = tmp_path / "repeated.parquet"
    repeated = pa.DictionaryArray.from_arrays([0] * 1000, ["x" * 100_000])
    # without Arrow's schema in the file (as other writers do), it reads back as plain text
    pq.write_table(pa.table({"a": repeated}), path, compression="zstd", store_schema=False)
    assert path.stat().st_size < MIB / 10
    with pytest.raises(TableTooLarge, match="limit of 10 MiB decompressed"):
        read_table(path, limits=TableLimits(max_bytes=10 * MIB))


def test_a_parquet_file_within_the_limits_reads_its_text_as_text(tmp_path):
    path = tmp_path / "people.parquet"
    pq.write_table(pa.table({"name": ["Ana", "Bo", None], "age": [31, 45, 28]}), path)
    frame = read_table(path, limits=TableLimits(max_bytes=MIB, max_rows=3)).frame
    assert frame["name"].tolist()[:2] == ["Ana", "Bo"] and pd.isna(frame["name"][2])
    assert pd.api.types.is_string_dtype(frame["name"].dtype)
