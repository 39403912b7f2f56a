"""The shipped migrations build exactly the tables the code uses, and can be undone."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from trainforge.store import migrate
from trainforge.store.tables import metadata
from trainforge.workspace import Workspace


def test_the_migrated_schema_matches_the_table_definitions(tmp_path: Path):
    engine = Workspace(tmp_path).engine
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def test_a_new_database_is_at_the_head_revision(tmp_path: Path):
    engine = Workspace(tmp_path).engine
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_migrations_downgrade_to_empty_and_upgrade_again(tmp_path: Path):
    engine = Workspace(tmp_path).engine
    with engine.connect() as connection:
        command.downgrade(migrate.alembic_config(connection), "base")
        connection.commit()
    assert sa.inspect(engine).get_table_names() == ["alembic_version"]
    migrate.upgrade(engine)
    assert set(sa.inspect(engine).get_table_names()) >= set(metadata.tables)
