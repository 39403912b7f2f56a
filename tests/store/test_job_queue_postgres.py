"""The job queue on PostgreSQL under workers claiming at once: each job is run once, and a
worker told "the queue is empty" was told the truth."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.store.postgres_cluster import postgres_workspace

from trainforge.store import jobs as job_store
from trainforge.store.tables import jobs
from trainforge.workspace import Workspace

N_JOBS, N_CLAIMERS = 120, 8


@pytest.fixture
def workspace(postgres_url: str, tmp_path: Path) -> Iterator[Workspace]:
    with postgres_workspace(postgres_url, tmp_path) as ws:
        yield ws


def claim_until_empty(workspace: Workspace, *, worker: str, claimed: list[str],
                      left_behind: list[int], start: threading.Barrier) -> None:
    """A worker's loop: claim and 'run' jobs until the queue answers empty; then note how
    many jobs it could still have taken (nothing is submitted meanwhile, so a job queued after
    the answer was queued at it)."""
    start.wait()
    while (job := job_store.claim_job(workspace, worker=worker)) is not None:
        claimed.append(job["id"])
        job_store.finish_job(workspace, job["id"], status="succeeded", worker=worker)
    left_behind.append(len(takeable(workspace)))


def takeable(workspace: Workspace) -> list[str]:
    """The queued jobs no other claimer is taking this instant: a row another claimer has
    locked is its (it commits "running" a moment later), not one left behind."""
    with workspace.engine.connect() as connection:
        return list(connection.execute(
            sa.select(jobs.c.id).where(jobs.c.status == "queued")
            .with_for_update(skip_locked=True)).scalars())


def claim_with(workspace: Workspace, n_claimers: int) -> tuple[list[str], list[int]]:
    claimed: list[str] = []
    left_behind: list[int] = []
    start = threading.Barrier(n_claimers)
    claimers = [threading.Thread(target=claim_until_empty, args=(workspace,),
                                 kwargs={"worker": f"w{n}", "claimed": claimed,
                                         "left_behind": left_behind, "start": start})
                for n in range(n_claimers)]
    for claimer in claimers:
        claimer.start()
    for claimer in claimers:
        claimer.join(timeout=60)
    return claimed, left_behind


def test_concurrent_claimers_take_every_job_exactly_once_on_postgres(workspace: Workspace):
    submitted = {job_store.submit_job(workspace, kind="train", config={"n": n})
                 for n in range(N_JOBS)}
    claimed, _ = claim_with(workspace, N_CLAIMERS)
    assert Counter(claimed).most_common(1)[0][1] == 1
    assert set(claimed) == submitted


def test_a_claimer_racing_others_hears_empty_only_when_no_job_is_queued_on_postgres(
        workspace: Workspace):
    for n in range(N_JOBS):
        job_store.submit_job(workspace, kind="train", config={"n": n})
    _, left_behind = claim_with(workspace, N_CLAIMERS)
    assert left_behind == [0] * N_CLAIMERS
