"""The shadow feed: a challenger predicts each answered request off the request path; a slow
one never makes the caller wait, its overflow is dropped and counted."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from trainforge.registry.loaded import LoadedModel
from trainforge.serving.served import ServedModel
from trainforge.serving.shadow import Shadow, ShadowFeed


class Kept:
    """A recorder keeping what it was given (the edge the feed writes to)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.stats = None

    def record(self, *, deployment: str, model: str, version: int, request_id: str,
               inputs: Mapping[str, Sequence[Any]], outputs: Mapping[str, Sequence[Any]],
               n_rows: int, latency_s: float) -> None:
        self.rows.append({"deployment": deployment, "version": version,
                          "request_id": request_id, "outputs": outputs})

    def start(self) -> object:
        return self

    def close(self) -> None:
        pass


@pytest.fixture
def shadow(classifier: LoadedModel) -> ServedModel:
    return ServedModel(classifier)


def _columns(model: ServedModel, records: list[dict[str, object]]) -> Any:
    return model.signature.parse_records(records)


def test_the_shadow_records_its_outputs_under_the_deployment_and_request_id(shadow, records):
    kept = Kept()
    feed = ShadowFeed(kept)
    Shadow("adult", shadow, feed).offer(_columns(shadow, records), "r1")
    feed.close()
    [row] = kept.rows
    assert (row["deployment"], row["request_id"]) == ("adult", "r1")
    assert len(row["outputs"]["prediction"]) == len(records)


def test_a_slow_shadow_drops_what_overflows_its_queue_without_blocking(shadow, records,
                                                                       monkeypatch):
    release = threading.Event()
    slow = shadow.outputs

    def waiting(columns: Any) -> Any:
        release.wait(5)
        return slow(columns)

    monkeypatch.setattr(shadow, "outputs", waiting)
    feed = ShadowFeed(Kept(), max_queued_rows=len(records))
    columns = _columns(shadow, records)
    for request in range(4):  # the first is taken by the worker, the second queued
        Shadow("adult", shadow, feed).offer(columns, f"r{request}")
    release.set()
    feed.close()
    assert feed.stats.dropped_rows >= len(records)
    assert feed.stats.predicted_rows + feed.stats.dropped_rows == 4 * len(records)
