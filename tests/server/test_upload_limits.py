"""Uploads under hostile input: compressed "bombs" of every format the reader takes are refused
at the server's limits (413, nothing kept, the server still serving), and a browser upload is
held to the same streamed limit as a token upload."""

from __future__ import annotations

import asyncio
import bz2
import functools
import gzip
import io
import lzma
from collections.abc import AsyncIterator, Iterable

import httpx
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from tests._bombs import MIB, csv_bytes, zipped
from tests._paths import EXAMPLES
from tests.server.conftest import bearer

from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app
from trainforge.server.auth import SESSION_COOKIE
from trainforge.store import access


def workbook(rows: int, *, text_bytes: int = 0) -> bytes:
    """An .xlsx of ``rows`` rows; with ``text_bytes``, each row holds that much unique text."""
    buffer = io.BytesIO()
    pd.DataFrame({"a": range(rows), "b": [f"{i:08}" + "x" * text_bytes for i in range(rows)]}
                 ).to_excel(buffer, index=False)
    return buffer.getvalue()


def parquet(rows: int) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"a": [0] * rows}), buffer)
    return buffer.getvalue()


@pytest.fixture
def limited(workspace) -> TestClient:
    """A server that takes 1 MiB decompressed and 2,000 rows per table."""
    return TestClient(create_server_app(workspace, ServerConfig(max_table_mb=1,
                                                                max_table_rows=2000)))


def upload(client: TestClient, token: str, name: str, content: bytes) -> httpx.Response:
    return client.post("/api/v1/datasets", headers=bearer(token),
                       files={"file": (name, content, "application/octet-stream")})


def left_on_disk(workspace) -> list:
    found = workspace.artifacts / "uploads"
    return sorted(found.rglob("*")) if found.exists() else []


BUILD = {
    "bomb.csv.gz": lambda: gzip.compress(csv_bytes(40 * 10**6), compresslevel=9),
    "bomb.csv.bz2": lambda: bz2.compress(csv_bytes(3 * MIB)),
    "bomb.csv.xz": lambda: lzma.compress(csv_bytes(3 * MIB)),
    "bomb.csv.zip": lambda: zipped({"bomb.csv": csv_bytes(3 * MIB)}),
    "parts.csv.zip": lambda: zipped({f"{i}.csv": csv_bytes(MIB // 4) for i in range(8)}),
    "bomb.xlsx": lambda: workbook(1500, text_bytes=1000),
}
BOMBS = list(BUILD)


@functools.cache
def bomb(name: str) -> bytes:
    return BUILD[name]()


@pytest.mark.parametrize("name", BOMBS)
def test_an_upload_that_decompresses_past_the_limit_is_a_413_naming_it_and_its_flag(
        limited, workspace, tokens, name: str):
    answer = upload(limited, tokens["editor"], name, bomb(name))
    detail = answer.json()["detail"]
    assert answer.status_code == 413
    assert f"'{name}'" in detail and "1 MiB decompressed" in detail
    assert "--max-table-mb" in detail and str(workspace.home) not in detail


@pytest.mark.parametrize("name", BOMBS)
def test_a_refused_bomb_leaves_no_file_and_no_record_and_the_server_still_serves(
        limited, workspace, tokens, name: str):
    upload(limited, tokens["editor"], name, bomb(name))
    assert left_on_disk(workspace) == []
    viewer = bearer(tokens["viewer"])
    assert limited.get("/api/v1/datasets", headers=viewer).json() == []
    assert limited.get("/api/v1/me", headers=viewer).status_code == 200


@pytest.mark.parametrize("name, content", [("long.parquet", parquet(100_000)),
                                           ("long.csv", csv_bytes(8 * 3000)),
                                           ("long.xlsx", workbook(3000))])
def test_a_table_with_more_rows_than_the_limit_is_a_413_naming_the_rows_flag(
        limited, workspace, tokens, name: str, content: bytes):
    answer = upload(limited, tokens["editor"], name, content)
    assert answer.status_code == 413
    assert "2,000 rows" in answer.json()["detail"]
    assert "--max-table-rows" in answer.json()["detail"]
    assert left_on_disk(workspace) == []


def test_a_gzipped_csv_within_the_limits_is_uploaded_and_read(limited, tokens):
    content = gzip.compress((EXAMPLES / "credit_g.csv").read_bytes())
    answer = upload(limited, tokens["editor"], "credit_g.csv.gz", content)
    assert answer.status_code == 201
    assert (answer.json()["n_rows"], answer.json()["size_bytes"]) == (1000, len(content))


@pytest.mark.slow
def test_the_default_limits_refuse_a_40_mb_gzip_bomb_by_its_rows(client, tokens):
    answer = upload(client, tokens["editor"], "bomb.csv.gz", bomb("bomb.csv.gz"))
    assert answer.status_code == 413 and "1,000,000 rows" in answer.json()["detail"]


# ---- browser (session cookie) uploads -----------------------------------------------------------
def form(parts: Iterable[tuple[str, bytes]], *, file_bytes: int) -> tuple[list[bytes], int]:
    """A multipart body in 64 KiB chunks: ``parts`` (name, value), then a CSV file field of
    ``file_bytes``; and its length."""
    body = b"".join(b'--b\r\nContent-Disposition: form-data; name="' + name.encode()
                    + b'"\r\n\r\n' + value + b"\r\n" for name, value in parts)
    body += (b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
             b"Content-Type: text/csv\r\n\r\n" + csv_bytes(file_bytes) + b"\r\n--b--\r\n")
    return [body[i:i + 65536] for i in range(0, len(body), 65536)], len(body)


def post_counting(app, headers: dict[str, str], chunks: list[bytes]) -> tuple[int, str, int]:
    """POST the chunks to the upload route (a multipart form unless ``headers`` say otherwise)
    without a Content-Length; the status, the detail and how many body bytes the server read
    before answering."""
    read = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal read
        for chunk in chunks:
            read += len(chunk)
            yield chunk

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            return await http.post("/api/v1/datasets", content=body(), headers={
                "Content-Type": "multipart/form-data; boundary=b", **headers})

    answer = asyncio.run(send())
    return answer.status_code, answer.json().get("detail", ""), read


@pytest.fixture
def session(workspace) -> tuple[str, str]:
    """An editor's browser session: (cookie header, CSRF token)."""
    access.create_user(workspace, username="ana", password="correct horse battery",
                       role="editor")
    secret, csrf = access.create_session(workspace, "ana")
    return f"{SESSION_COOKIE}={secret}", csrf


@pytest.mark.slow
def test_an_oversized_browser_upload_is_refused_at_the_limit_without_reading_the_rest(
        workspace, session):
    cookie, csrf = session
    app = create_server_app(workspace, ServerConfig(max_upload_mb=1))
    chunks, total = form([("csrf_token", csrf.encode())], file_bytes=16 * MIB)
    status, detail, read = post_counting(app, {"Cookie": cookie}, chunks)
    assert status == 413 and "upload limit" in detail
    assert read < 2 * MIB < total
    assert left_on_disk(workspace) == []


def test_a_browser_upload_whose_file_comes_before_its_csrf_token_is_a_403_and_keeps_nothing(
        workspace, session):
    cookie, csrf = session
    app = create_server_app(workspace, ServerConfig())
    body = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
            + csv_bytes(4 * MIB) + b'\r\n--b\r\nContent-Disposition: form-data; '
            b'name="csrf_token"\r\n\r\n' + csrf.encode() + b"\r\n--b--\r\n")
    chunks = [body[i:i + 65536] for i in range(0, len(body), 65536)]
    status, _, read = post_counting(app, {"Cookie": cookie}, chunks)
    assert status == 403 and read < MIB
    assert left_on_disk(workspace) == []


@pytest.mark.parametrize("parts", [[], [("csrf_token", b"forged")]], ids=["none", "forged"])
def test_a_browser_upload_without_its_csrf_token_is_a_403_and_keeps_nothing(workspace, session,
                                                                         parts):
    cookie, _ = session
    app = create_server_app(workspace, ServerConfig())
    chunks, _ = form(parts, file_bytes=4 * MIB)
    status, detail, read = post_counting(app, {"Cookie": cookie}, chunks)
    assert status == 403 and "CSRF" in detail and read < MIB
    assert left_on_disk(workspace) == []


def test_fields_around_the_file_do_not_let_a_body_past_the_upload_limit(workspace, tokens):
    app = create_server_app(workspace, ServerConfig(max_upload_mb=1))
    chunks, _ = form([("note", b"x" * 16 * MIB)], file_bytes=10)
    status, detail, read = post_counting(app, bearer(tokens["editor"]), chunks)
    assert status == 413 and "upload limit" in detail and read < 2 * MIB



def test_a_browser_upload_that_is_not_a_multipart_form_is_a_403_before_its_body_is_read(
        workspace, session):
    cookie, _ = session
    app = create_server_app(workspace, ServerConfig())
    chunks = [b"csrf_token=forged&file=" + b"x" * 65536] * 64
    status, _, read = post_counting(app, {"Cookie": cookie, "Content-Type":
                                          "application/x-www-form-urlencoded"}, chunks)
    assert status == 403 and read < MIB
