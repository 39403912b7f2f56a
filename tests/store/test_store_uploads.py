"""Uploaded files: names that cannot escape their directory, and their records."""

from __future__ import annotations

import os
import stat

import pytest

from trainforge.errors import DatasetNotFound
from trainforge.store import uploads
from trainforge.workspace import Workspace


@pytest.mark.parametrize(("given", "kept"), [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\win.ini", "win.ini"),
    ("C:\\data\\sales 2024.csv", "sales_2024.csv"),
    ("/abs/path/x.parquet", "x.parquet"),
    (".env", "env"),
    ("..", "upload"),
    ("", "upload"),
    ("a\x00b.csv", "ab.csv"),
])
def test_an_uploaded_file_name_becomes_one_plain_component(given, kept):
    assert uploads.safe_filename(given) == kept


def test_an_upload_is_recorded_and_found_by_id_with_its_file(tmp_path):
    ws = Workspace(tmp_path)
    upload_id, directory = uploads.new_upload_dir(ws)
    path = directory / "adult.csv"
    path.write_text("a,b\n1,2\n")
    uploads.record_upload(ws, upload_id=upload_id, path=path, size_bytes=8, sha256="0" * 64,
                          uploaded_by="ana")
    found = uploads.get_upload(ws, upload_id)
    assert found["file"] == path and found["filename"] == "adult.csv"
    assert [u["id"] for u in uploads.list_uploads(ws)] == [upload_id]


def test_an_unknown_dataset_id_is_named(tmp_path):
    with pytest.raises(DatasetNotFound, match="'nope'"):
        uploads.get_upload(Workspace(tmp_path), "nope")


def test_uploads_are_kept_in_a_directory_only_the_owner_may_enter(tmp_path):
    old_umask = os.umask(0)
    try:
        _, directory = uploads.new_upload_dir(Workspace(tmp_path))
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(directory.parent.stat().st_mode) == 0o700
