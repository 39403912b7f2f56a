"""The same store code on PostgreSQL, in a throwaway cluster (skipped, saying why, when
PostgreSQL or psycopg is missing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from tests.store.postgres_cluster import postgres_workspace

from trainforge.data.dataset import ColumnKind, Dataset
from trainforge.store import finish_run, get_run, list_runs, log_metric, record_dataset, start_run
from trainforge.store.tables import metadata
from trainforge.workspace import Workspace


@pytest.fixture
def workspace(postgres_url: str, tmp_path: Path) -> Iterator[Workspace]:
    with postgres_workspace(postgres_url, tmp_path) as ws:
        yield ws


def test_runs_are_recorded_and_read_back_on_postgres(workspace: Workspace):
    run_id = start_run(workspace, kind="train", config={"seed": 0}, dataset_id=None)
    log_metric(workspace, run_id, "loss", 0.5, step=0)
    finish_run(workspace, run_id, status="succeeded", metrics={"r2": float("nan")},
               peak_memory_mb=10.0, cpu_s=1.0, model=("concrete", 1))
    run = get_run(workspace, run_id)
    assert (run["status"], run["metrics"], run["series"]["loss"][0]["value"]) == (
        "succeeded", {"r2": None}, 0.5)
    assert [r["id"] for r in list_runs(workspace)] == [run_id]


def test_the_migrated_schema_matches_the_table_definitions_on_postgres(workspace: Workspace):
    with workspace.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []


def test_a_dataset_is_recorded_once_per_fingerprint_on_postgres(workspace: Workspace):
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": ["a", "b"]})
    dataset = Dataset(frame=frame, schema={"x": ColumnKind.NUMERIC, "y": ColumnKind.CATEGORICAL},
                      source="tiny.csv")
    assert record_dataset(workspace, dataset) == record_dataset(workspace, dataset, {"n": 2})
