"""A new store is created from the table definitions and stamped, without alembic; it must be
the very schema an existing store reaches by running every migration, which stay the truth."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests._paths import EXAMPLES
from tests.store.schemas import differences_between, migrate_to, schema_of

from trainforge.store import migrate
from trainforge.store.engine import create_store_engine
from trainforge.store.tables import metadata
from trainforge.workspace import Workspace


def sqlite_engine(path: Path) -> sa.Engine:
    return create_store_engine(f"sqlite:///{path}")


def test_a_new_store_has_the_schema_every_migration_builds(tmp_path: Path):
    created, migrated = sqlite_engine(tmp_path / "new.db"), sqlite_engine(tmp_path / "old.db")
    migrate.upgrade(created)
    migrate_to(migrated, "head")
    assert differences_between(schema_of(created), schema_of(migrated)) == []


def test_a_new_store_is_stamped_at_the_newest_revision_as_alembic_stamps_it(tmp_path: Path):
    engine = sqlite_engine(tmp_path / "new.db")
    migrate.upgrade(engine)
    with engine.connect() as connection:
        stamped = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    assert [tuple(row) for row in stamped] == [(migrate.HEAD_REVISION,)]


def test_a_database_holding_other_tables_gets_the_store_beside_them(tmp_path: Path):
    engine = sqlite_engine(tmp_path / "shared.db")
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE notes (text TEXT)"))
    migrate.upgrade(engine)
    assert set(sa.inspect(engine).get_table_names()) == {"notes", "alembic_version",
                                                          *metadata.tables}
    assert migrate.current_revision(engine) == migrate.HEAD_REVISION


def test_creating_a_store_that_another_process_has_just_made_changes_nothing(tmp_path: Path):
    engine = sqlite_engine(tmp_path / "new.db")
    migrate.upgrade(engine)
    made = schema_of(engine)
    assert (migrate.create_new(engine), schema_of(engine)) == (False, made)


def test_a_created_store_downgrades_and_migrates_up_again(tmp_path: Path):
    engine = sqlite_engine(tmp_path / "new.db")
    migrate.upgrade(engine)
    before = schema_of(engine)
    migrate_to(engine, "0001", down=True)
    migrate.upgrade(engine)
    assert schema_of(engine) == before


def _open_when_all_are_ready(home: Path, ready: Barrier) -> None:
    ready.wait()
    Workspace(home).engine.dispose()


def test_processes_opening_one_new_workspace_at_once_create_it_once(tmp_path: Path):
    forked = multiprocessing.get_context("fork")  # the test's own modules, nothing to import
    ready = forked.Barrier(6)
    openers = [forked.Process(target=_open_when_all_are_ready, args=(tmp_path / "home", ready))
               for _ in range(6)]
    for opener in openers:
        opener.start()
    for opener in openers:
        opener.join(timeout=120)
    engine = Workspace(tmp_path / "home").engine
    with engine.connect() as connection:
        stamped = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    assert [opener.exitcode for opener in openers] == [0] * 6
    assert [tuple(row) for row in stamped] == [(migrate.HEAD_REVISION,)]


_OPEN_BOTH = """
import sys
from trainforge.store import migrate
from trainforge.workspace import Workspace
Workspace(sys.argv[1]).engine
print("new:", "alembic" in sys.modules)
revision = migrate.current_revision(Workspace(sys.argv[2]).engine)
print("older:", "alembic" in sys.modules, revision)
"""


@pytest.mark.slow  # a fresh interpreter (~1 s)
def test_alembic_is_imported_only_to_migrate_an_older_workspace(tmp_path: Path):
    older = Workspace(tmp_path / "older").engine
    migrate_to(older, "0005", down=True)
    older.dispose()
    done = subprocess.run([sys.executable, "-c", _OPEN_BOTH, str(tmp_path / "new"),
                           str(tmp_path / "older")], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["new: False", f"older: True {migrate.HEAD_REVISION}"]


_TRAIN = """
import sys
import trainforge as tf
tf.train(sys.argv[1], target="cultivar", trials=1, algorithm="linear",
         workspace=tf.Workspace(sys.argv[2]))
print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))
"""


@pytest.mark.slow  # a whole training in a fresh interpreter (a few seconds)
def test_training_a_table_model_in_a_new_workspace_does_not_import_alembic(tmp_path: Path):
    done = subprocess.run([sys.executable, "-c", _TRAIN, str(EXAMPLES / "wine.csv"),
                           str(tmp_path / "home")], capture_output=True, text=True, check=False,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
