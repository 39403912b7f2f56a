"""The shipped migrations build exactly the tables the code uses, and can be undone."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from tests.store.schemas import migrate_to

from trainforge.store import migrate
from trainforge.store.engine import create_store_engine
from trainforge.store.tables import metadata
from trainforge.workspace import Workspace


def test_the_migrated_schema_matches_the_table_definitions(tmp_path: Path):
    engine = create_store_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate_to(engine, "head")
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def test_a_new_database_is_at_the_newest_revision(tmp_path: Path):
    engine = Workspace(tmp_path).engine
    assert migrate.current_revision(engine) == migrate.HEAD_REVISION


def test_the_newest_revision_constant_names_the_newest_migration():
    assert migrate.scripts().get_current_head() == migrate.HEAD_REVISION


def test_migrations_downgrade_to_empty_and_upgrade_again(tmp_path: Path):
    engine = Workspace(tmp_path).engine
    with engine.connect() as connection:
        command.downgrade(migrate.alembic_config(connection), "base")
        connection.commit()
    assert sa.inspect(engine).get_table_names() == ["alembic_version"]
    migrate.upgrade(engine)
    assert set(sa.inspect(engine).get_table_names()) >= set(metadata.tables)


def test_a_workspace_from_the_first_schema_opens_and_keeps_numbering_its_models(
        tmp_path: Path):
    workspace = Workspace(tmp_path)
    with workspace.engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO models (name, version, task_kind, description, manifest, "
            "manifest_sha256, path, created_at) VALUES ('credit', 7, 'binary', '', '{}', '', "
            "'models/credit/7', '2026-11-29 10:00:00')"))
    with workspace.engine.connect() as connection:
        command.downgrade(migrate.alembic_config(connection), "0001")
        connection.commit()
    workspace.close()
    reopened = Workspace(tmp_path)
    with reopened.engine.connect() as connection:
        last = connection.execute(sa.text("SELECT last_version FROM model_names")).scalar()
    assert last == 7
