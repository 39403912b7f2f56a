"""A JSON or form body is bounded before it is parsed: a huge POST, signed in or not, is a 413
and the route never runs. (FastAPI's own max_body_size stops reading at the limit; the test
client sends the whole body regardless, so these check the answer, not the bytes read.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.server.conftest import bearer

from trainforge.server.api.bodies import MAX_BODY_BYTES
from trainforge.store.jobs import list_jobs

CHUNK = b" " * 65536


def streamed(n_bytes: int) -> Iterator[bytes]:
    """A body of ``n_bytes`` sent without a Content-Length (chunked)."""
    for _ in range(n_bytes // len(CHUNK)):
        yield CHUNK


def test_a_json_body_declared_over_the_limit_is_refused_unread(client, tokens):
    answer = client.post("/api/v1/jobs", content=b"{}", headers={
        **bearer(tokens["editor"]), "Content-Type": "application/json",
        "Content-Length": str(MAX_BODY_BYTES + 1)})
    assert answer.status_code == 413


def test_a_streamed_json_body_is_cut_off_at_the_limit_and_queues_nothing(client, tokens,
                                                                         workspace):
    answer = client.post("/api/v1/jobs", content=streamed(16 * MAX_BODY_BYTES),
                         headers={**bearer(tokens["editor"]), "Content-Type": "application/json"})
    assert answer.status_code == 413 and list_jobs(workspace) == []


def test_an_unauthenticated_json_body_is_bounded_too(client):
    answer = client.post("/api/v1/tokens", content=streamed(16 * MAX_BODY_BYTES),
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 413


@pytest.mark.parametrize("path", ["/login", "/logout"])
def test_a_form_body_over_the_limit_is_refused_before_it_is_parsed(client, path):
    answer = client.post(path, content=streamed(16 * MAX_BODY_BYTES),
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 413
