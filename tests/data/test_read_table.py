from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from tests.data._tables import ADULT, GERMAN

from trainforge.data.dataset import ColumnKind, fingerprint
from trainforge.data.read import read_table
from trainforge.errors import DataFileNotFound, EmptyData, UnreadableData, UnsupportedFormat

PEOPLE = "name,age,city\nAna,31,Lisbon\nBo,45,Oslo\nCy,28,Lima\n"


def test_a_gzipped_table_reads_with_all_its_rows_and_columns(tmp_path: Path):
    path = tmp_path / "adult.csv.gz"
    path.write_bytes(gzip.compress(ADULT.read_bytes()))
    dataset = read_table(path)
    assert dataset.frame.shape == (32561, 15)
    assert dataset.schema["age"] is ColumnKind.NUMERIC
    assert dataset.fingerprint == fingerprint(dataset.frame)


def test_a_semicolon_delimited_file_is_split_into_its_columns(write):
    dataset = read_table(write("people.csv", PEOPLE.replace(",", ";")))
    assert dataset.columns == ["name", "age", "city"]
    assert dataset.frame["age"].tolist() == [31, 45, 28]


@pytest.mark.parametrize("delimiter, name", [("\t", "tab"), ("|", "pipe"), (",", "comma")])
def test_the_delimiter_is_sniffed_and_noted(write, delimiter: str, name: str):
    notes: list[str] = []
    dataset = read_table(write("people.txt", PEOPLE.replace(",", delimiter)), notes=notes)
    assert dataset.frame["city"].tolist() == ["Lisbon", "Oslo", "Lima"]
    assert f"{name}-delimited" in notes[0]


def test_a_file_without_a_header_row_gets_numbered_column_names_and_a_note(write):
    rows = ADULT.read_bytes().split(b"\n", 1)[1]  # adult.data as UCI ships it: no header
    notes: list[str] = []
    dataset = read_table(write("adult.data.gz", gzip.compress(rows)), notes=notes)
    assert dataset.frame.shape == (32561, 15)
    assert dataset.frame["column_1"].iloc[0] == 39
    assert dataset.frame["column_15"].iloc[0] == "<=50K"
    assert "no header row" in notes[0]


def test_years_as_column_names_are_still_a_header(write):
    dataset = read_table(write("wide.csv", "country,2019,2020\nNorway,5.1,5.3\nPeru,3.2,3.0\n"))
    assert dataset.columns == ["country", "2019", "2020"]


def test_a_space_delimited_file_with_trailing_spaces_is_read():
    dataset = read_table(GERMAN)
    assert dataset.frame.shape == (1000, 21)
    assert dataset.frame["column_21"].value_counts().to_dict() == {1: 700, 2: 300}


def test_decimal_commas_are_read_as_numbers_in_semicolon_files(write):
    frame = read_table(write("eu.csv", "name;price\na;1,5\nb;1.234,25\nc;2\n")).frame
    assert frame["price"].tolist() == [1.5, 1234.25, 2.0]


def test_a_comma_inside_quotes_does_not_split_the_value(write):
    dataset = read_table(write("q.csv", 'name,city\n"Smith, Ann",Oslo\nBo,Lima\n'))
    assert dataset.frame["name"].tolist() == ["Smith, Ann", "Bo"]


def test_a_latin1_file_is_read_with_its_accents_and_the_encoding_is_noted(write):
    text = "name;city;score\nJosé;Zürich;3\nFrançois;Besançon;4\nRenée;Malmö;5\n"
    notes: list[str] = []
    dataset = read_table(write("latin.csv", text, encoding="latin-1"), notes=notes)
    assert dataset.frame["name"].tolist() == ["José", "François", "Renée"]
    assert dataset.frame["city"].tolist() == ["Zürich", "Besançon", "Malmö"]
    assert "encoding cp1252" in notes[0]


def test_a_cyrillic_cp1251_file_is_not_mistaken_for_western_text(write):
    text = "имя;город\nИван;Москва\nПётр;Санкт-Петербург\nАнна;Новосибирск\n"
    dataset = read_table(write("ru.csv", text, encoding="cp1251"))
    assert dataset.frame["город"].tolist() == ["Москва", "Санкт-Петербург", "Новосибирск"]


def test_a_utf8_bom_does_not_stick_to_the_first_column_name(write):
    dataset = read_table(write("bom.csv", "\ufeff" + PEOPLE))
    assert dataset.columns[0] == "name"


def test_binary_bytes_named_csv_are_unreadable(write):
    with pytest.raises(UnreadableData, match="binary data"):
        read_table(write("image.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe" * 50))


def test_a_row_with_an_extra_field_is_refused_naming_the_file_and_line(write):
    path = write("bad.csv", "a,b,c\n1,2,3\n4,5,6\n7,8,9,10\n11,12,13\n")
    with pytest.raises(UnreadableData, match=r"bad\.csv: line 4 has 4 fields but the header "
                                             r"has 3.*fix line 4"):
        read_table(path)


def test_a_row_with_a_missing_field_is_refused_too(write):
    with pytest.raises(UnreadableData, match="line 3 has 2 fields"):
        read_table(write("short.csv", "a,b,c\n1,2,3\n4,5\n"))


def test_an_empty_file_is_refused_as_empty(write):
    with pytest.raises(EmptyData, match="empty.csv: the file is empty"):
        read_table(write("empty.csv", ""))


def test_a_file_with_only_a_header_is_refused_as_having_no_rows(write):
    with pytest.raises(EmptyData, match="no data rows"):
        read_table(write("header.csv", "a,b,c\n"))


def test_a_missing_file_says_no_such_file():
    with pytest.raises(DataFileNotFound, match="no such file: nowhere/data.csv"):
        read_table("nowhere/data.csv")


def test_an_unknown_suffix_is_an_unsupported_format(write):
    with pytest.raises(UnsupportedFormat, match=r"'\.sav'"):
        read_table(write("survey.sav", "x"))


def test_duplicate_column_names_are_refused_naming_them(write):
    with pytest.raises(UnreadableData, match=r"'age'.*more than once"):
        read_table(write("dup.csv", "age,name, age\n1,a,2\n"))


def test_a_title_line_above_the_header_is_reported_as_a_malformed_line(write):
    with pytest.raises(UnreadableData, match="line 2 has 3 fields but the header has 1"):
        read_table(write("title.csv", "Sales report 2024\na,b,c\n1,2,3\n4,5,6\n"))


def test_a_blank_column_name_is_named_like_an_index_column(write):
    dataset = read_table(write("index.csv", ",a\n0,x\n1,y\n"))
    assert dataset.columns == ["Unnamed: 0", "a"]


def test_column_names_lose_surrounding_whitespace(write):
    dataset = read_table(write("space.csv", " name , age\nAna,31\nBo,45\n"))
    assert dataset.columns == ["name", "age"]


def test_na_tokens_are_missing_but_none_stays_a_category(write):
    text = "v\nNA\nN/A\nnull\n?\nNaN\n\nNone\nred\n"
    column = read_table(write("na.csv", text)).frame["v"]
    assert column.isna().sum() == 5  # the blank line is skipped, not a row
    assert column.dropna().tolist() == ["None", "red"]


def test_text_columns_are_pandas_strings(write):
    frame = read_table(write("people.csv", PEOPLE)).frame
    assert pd.api.types.is_string_dtype(frame["city"].dtype)
    assert frame["city"].dtype != object


def test_an_integer_column_with_gaps_is_float_and_remembered_as_integers(write):
    frame = read_table(write("gaps.csv", "n,x\n1,0.5\n,1.5\n3,2.0\n")).frame
    assert frame["n"].dtype == "float64"
    assert frame.attrs["trainforge.integer_columns"] == ["n"]


def test_numbers_with_a_few_junk_values_are_numbers_with_the_junk_missing_and_noted(write):
    rows = "\n".join(str(i) for i in range(40))
    notes: list[str] = []
    dataset = read_table(write("junk.csv", f"n\n{rows}\nunknown\n"), notes=notes)
    assert dataset.schema["n"] is ColumnKind.NUMERIC
    assert dataset.frame["n"].dtype == "float64"
    assert dataset.frame["n"].isna().sum() == 1
    assert "column 'n' holds numbers; 1 values that are not numbers ('unknown')" in notes[-1]


def test_parquet_json_jsonl_and_excel_give_the_same_table(tmp_path: Path):
    frame = pd.DataFrame({"name": ["Ana", "Bo", "Cy"], "age": [31, 45, 28],
                          "score": [0.5, None, 2.0]})
    frame.to_parquet(tmp_path / "t.parquet")
    (tmp_path / "t.json").write_text(frame.to_json(orient="records"))
    (tmp_path / "t.jsonl").write_text(frame.to_json(orient="records", lines=True))
    frame.to_excel(tmp_path / "t.xlsx", index=False)
    for name in ("t.parquet", "t.json", "t.jsonl", "t.xlsx"):
        read = read_table(tmp_path / name).frame
        assert read["name"].tolist() == ["Ana", "Bo", "Cy"], name
        assert read["age"].tolist() == [31, 45, 28], name
        assert read["score"].isna().tolist() == [False, True, False], name


def test_a_gzipped_jsonl_file_is_read(tmp_path: Path):
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}\n'))
    assert read_table(path).frame["b"].tolist() == ["x", "y"]


@pytest.mark.parametrize("name, hint", [("t.parquet", "not truncated"), ("t.xlsx", "save it again")])
def test_a_broken_binary_file_is_unreadable_with_what_to_do(write, name: str, hint: str):
    with pytest.raises(UnreadableData, match=hint):
        read_table(write(name, b"these bytes are no table" * 10))


def test_invalid_json_names_the_line(write):
    with pytest.raises(UnreadableData, match="line 2"):
        read_table(write("bad.json", '[{"a": 1},\n {"a": }]'))


def test_json_that_is_not_a_table_says_what_to_write(write):
    with pytest.raises(UnreadableData, match="array of records"):
        read_table(write("scalar.json", json.dumps(42)))


def test_a_bad_jsonl_line_is_named(write):
    with pytest.raises(UnreadableData, match="line 2 is not valid JSON"):
        read_table(write("bad.jsonl", '{"a": 1}\n{"a": \n'))


def test_a_sql_query_result_is_the_table(tmp_path: Path):
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as connection:
        connection.execute("create table orders (id integer, amount real, city text)")
        connection.executemany("insert into orders values (?, ?, ?)",
                               [(1, 9.5, "Oslo"), (2, 20.0, "Lima"), (3, 4.25, "Oslo")])
    dataset = read_table(f"sqlite:///{db}", sql="select amount, city from orders where id > 1")
    assert dataset.frame.to_dict("list") == {"amount": [20.0, 4.25], "city": ["Lima", "Oslo"]}
    assert "select amount" in dataset.source


def test_a_failing_sql_query_says_to_check_the_query(tmp_path: Path):
    with pytest.raises(UnreadableData, match="the query failed.*check the query"):
        read_table(f"sqlite:///{tmp_path / 'x.db'}", sql="select * from missing_table")


def test_a_dataframe_passes_through_with_its_source_and_fingerprint():
    frame = pd.DataFrame({" a ": [1, 2], "b": ["x", "y"]})
    dataset = read_table(frame)
    assert dataset.source == "<DataFrame>"
    assert dataset.columns == ["a", "b"]
    assert frame.columns.tolist() == [" a ", "b"]  # the caller's frame is left alone
    assert dataset.fingerprint == read_table(frame.copy()).fingerprint


def test_the_data_package_exports_its_entry_points_lazily():
    from trainforge import data

    assert sorted(data.__all__) == sorted(data._HOMES)
    assert all(callable(getattr(data, name)) or name == "NA_TOKENS" for name in data.__all__)
