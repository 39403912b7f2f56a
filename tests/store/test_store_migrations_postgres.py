"""The shipped migrations on PostgreSQL: an empty database to the newest schema, an older
one holding data to the newest with its data kept, and every step undone; and a new store,
created from the table definitions, the same as one the migrations built."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from tests.store.schemas import differences_between, migrate_to, schema_of

from trainforge.store import migrate
from trainforge.store.engine import create_store_engine
from trainforge.store.tables import metadata


@pytest.fixture
def engine(postgres_url: str) -> Iterator[sa.Engine]:
    """The test cluster's database, emptied afterwards for the next test."""
    engine = create_store_engine(postgres_url)
    try:
        yield engine
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()


def schema_differences(engine: sa.Engine) -> list[object]:
    with engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))


def test_an_empty_postgres_database_migrates_to_the_table_definitions(engine: sa.Engine):
    migrate_to(engine, "head")
    assert migrate.current_revision(engine) == migrate.HEAD_REVISION
    assert schema_differences(engine) == []


def test_a_new_postgres_store_has_the_schema_every_migration_builds(engine: sa.Engine):
    migrate_to(engine, "head")
    migrated = schema_of(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.HEAD_REVISION
    assert differences_between(schema_of(engine), migrated) == []


def test_a_postgres_database_at_0005_with_data_migrates_to_the_newest_and_keeps_it(
        engine: sa.Engine):
    migrate_to(engine, "0005")
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO models (name, version, task_kind, description, manifest, "
            "manifest_sha256, path, created_at) VALUES ('credit', 7, 'binary', '', '{}', '', "
            "'models/credit/7', '2026-11-29 10:00:00+00')"))
        connection.execute(sa.text(
            "INSERT INTO users (username, role, password_hash, created_at) VALUES "
            "('eve', 'editor', 'x', '2026-11-29 10:00:00+00')"))
        connection.execute(sa.text(
            "INSERT INTO jobs (id, kind, status, config, created_at, attempts, "
            "cancel_requested) VALUES ('" + "a" * 32 + "', 'train', 'queued', '{}', "
            "'2026-11-29 10:00:00+00', 0, false)"))
    migrate.upgrade(engine)
    with engine.connect() as connection:
        kept = connection.execute(sa.text(
            "SELECT (SELECT max(version) FROM models), (SELECT status FROM jobs), "
            "(SELECT role FROM users)")).one()
    assert (migrate.current_revision(engine), tuple(kept)) == (
        migrate.HEAD_REVISION, (7, "queued", "editor"))
    assert schema_differences(engine) == []


def test_every_migration_downgrades_to_empty_on_postgres_and_upgrades_again(
        engine: sa.Engine):
    migrate.upgrade(engine)
    migrate_to(engine, "base", down=True)
    assert sa.inspect(engine).get_table_names() == ["alembic_version"]
    migrate.upgrade(engine)
    assert schema_differences(engine) == []
