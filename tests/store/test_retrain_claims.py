"""Claiming a retrain in the store: of two checkers (two server processes) that find the same
retrain due, one queues it; on SQLite and on PostgreSQL (skipped, saying why, without one)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.store.postgres_cluster import postgres_workspace

from trainforge.store import retrain as retrain_store
from trainforge.store.clock import utc_now
from trainforge.store.tables import retrain_events
from trainforge.workspace import Workspace


@pytest.fixture(params=["sqlite", "postgres"])
def workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    if request.param == "sqlite":
        ws = Workspace(tmp_path / "home")
        yield ws
        ws.close()
        return
    with postgres_workspace(request.getfixturevalue("postgres_url"), tmp_path / "home") as ws:
        yield ws


def _claim(ws: Workspace) -> int | None:
    return retrain_store.claim_retrain(ws, model_name="churn", trigger="labels", reason="due")


def test_a_claim_is_a_queued_event(workspace: Workspace):
    event_id = _claim(workspace)
    assert event_id is not None
    assert retrain_store.get_event(workspace, event_id)["outcome"] == "queued"


def test_a_retrain_already_queued_is_not_claimed_again(workspace: Workspace):
    _claim(workspace)
    assert _claim(workspace) is None


def test_a_finished_retrain_leaves_the_next_one_free_to_claim(workspace: Workspace):
    retrain_store.finish_event(workspace, _claim(workspace), outcome="failed")  # type: ignore[arg-type]
    assert _claim(workspace) is not None


@pytest.mark.parametrize("policy", [True, False], ids=["with a policy", "retrain now, no policy"])
def test_a_claim_racing_another_checkers_uncommitted_claim_waits_and_loses(
        workspace: Workspace, policy: bool):
    if policy:
        retrain_store.save_policy(workspace, "churn", {}, updated_by="ann")
    claimed: list[int | None] = []
    racing = threading.Thread(target=lambda: claimed.append(_claim(workspace)))
    with workspace.engine.connect() as other, other.begin():
        # the other checker, midway through its claim: the model locked, event inserted
        retrain_store.lock_model(other, "churn")
        other.execute(sa.insert(retrain_events).values(
            model_name="churn", at=utc_now(), trigger="labels", reason="theirs",
            outcome="queued"))
        racing.start()
        racing.join(timeout=0.3)  # ours must wait for theirs to commit
        waited = racing.is_alive()
    racing.join(timeout=30.0)
    assert waited and claimed == [None]
