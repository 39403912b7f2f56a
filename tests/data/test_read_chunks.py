from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from tests.data._tables import CREDIT

from trainforge.data.read import read_chunks, read_table
from trainforge.errors import ConfigError, UnreadableData


def test_csv_chunks_put_together_equal_the_whole_table():
    chunks = list(read_chunks(CREDIT, chunk_rows=300))
    assert [len(c) for c in chunks] == [300, 300, 300, 100]
    whole = read_table(CREDIT).frame
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole,
                                  check_dtype=False)


def test_a_column_that_is_text_in_the_first_chunk_stays_text_in_later_chunks(write):
    path = write("codes.csv", "code,n\nA1,1\nB2,2\n0012,3\n0013,4\n")
    chunks = list(read_chunks(path, chunk_rows=2))
    assert chunks[1]["code"].tolist() == ["0012", "0013"]


def test_semicolon_and_latin1_are_sniffed_for_chunks_too(write):
    path = write("l.csv", "name;n\nJosé;1\nZoë;2\nRenée;3\n", encoding="latin-1")
    names = [name for chunk in read_chunks(path, chunk_rows=2) for name in chunk["name"]]
    assert names == ["José", "Zoë", "Renée"]


def test_parquet_streams_in_row_batches(tmp_path: Path):
    pd.DataFrame({"x": range(10), "y": ["a"] * 10}).to_parquet(tmp_path / "t.parquet")
    chunks = list(read_chunks(tmp_path / "t.parquet", chunk_rows=4))
    assert [len(c) for c in chunks] == [4, 4, 2]


def test_jsonl_streams_by_lines(write):
    path = write("t.jsonl", "".join(f'{{"x": {i}}}\n' for i in range(5)))
    assert [c["x"].tolist() for c in read_chunks(path, chunk_rows=2)] == [[0, 1], [2, 3], [4]]


def test_excel_is_read_whole_then_cut(tmp_path: Path):
    pd.DataFrame({"x": range(5)}).to_excel(tmp_path / "t.xlsx", index=False)
    assert [len(c) for c in read_chunks(tmp_path / "t.xlsx", chunk_rows=3)] == [3, 2]


def test_a_malformed_row_in_a_streamed_file_names_its_line(write):
    path = write("bad.csv", "a,b\n1,2\n3,4\n5,6,7\n")
    with pytest.raises(UnreadableData, match="line 4 has 3 fields"):
        list(read_chunks(path, chunk_rows=1))


def test_a_chunk_size_below_one_is_refused(write):
    with pytest.raises(ConfigError, match="chunk_rows must be at least 1"):
        list(read_chunks(write("a.csv", "a\n1\n"), chunk_rows=0))
