"""The registry on PostgreSQL, in a throwaway cluster (skipped, saying why, when PostgreSQL
or psycopg is missing)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tests.store.postgres_cluster import postgres_workspace

from trainforge.algorithms.model import TabularModel
from trainforge.workspace import Workspace


@pytest.fixture
def workspace(postgres_url: str, tmp_path: Path) -> Iterator[Workspace]:
    with postgres_workspace(postgres_url, tmp_path) as ws:
        yield ws


def test_models_register_load_alias_and_delete_on_postgres(
        workspace: Workspace, regressor: TabularModel, lineage: dict):
    registry = workspace.registry
    registry.register(regressor, name="concrete", metrics={"r2": 0.6}, lineage=lineage)
    registry.register(regressor, name="concrete", metrics={"r2": 0.7}, lineage=lineage)
    registry.alias("concrete", 1, "production")
    assert registry.load("concrete@production").version == 1
    registry.delete("concrete", 1)
    assert [(s.latest_version, s.aliases, s.metric_value) for s in registry.list_models()] == [
        (2, {}, 0.7)]


def test_concurrent_registrations_get_distinct_versions_on_postgres(
        workspace: Workspace, postgres_url: str, classifier: TabularModel, lineage: dict):
    assert workspace.registry.list_models() == []  # the schema exists before the race
    barrier = threading.Barrier(3)

    def register() -> int:
        writer = Workspace(workspace.home, database_url=postgres_url)
        barrier.wait()
        version = writer.registry.register(classifier, name="credit", metrics={},
                                           lineage=lineage).version
        writer.close()
        return version

    with ThreadPoolExecutor(3) as pool:
        writers = [pool.submit(register) for _ in range(3)]
        assert sorted(writer.result() for writer in writers) == [1, 2, 3]
