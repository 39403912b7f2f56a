"""A new store is created from the table definitions and stamped, without alembic; it must be
the very schema an existing store reaches by running every migration, which stay the truth."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests._paths import EXAMPLES
from tests.store.schemas import differences_between, migrate_to, schema_of

from trainforge.store import migrate
from trainforge.store.engine import create_store_engine
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


def test_a_store_with_tables_but_no_revision_is_left_to_the_migrations(tmp_path: Path):
    engine = sqlite_engine(tmp_path / "shared.db")
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE notes (text TEXT)"))
    migrate.upgrade(engine)
    assert "notes" in sa.inspect(engine).get_table_names()
    assert migrate.current_revision(engine) == migrate.HEAD_REVISION


def test_a_created_store_downgrades_and_migrates_up_again(tmp_path: Path):
    engine = sqlite_engine(tmp_path / "new.db")
    migrate.upgrade(engine)
    before = schema_of(engine)
    migrate_to(engine, "0001", down=True)
    migrate.upgrade(engine)
    assert schema_of(engine) == before


def test_opening_a_new_workspace_does_not_import_alembic(tmp_path: Path):
    script = ("import sys; from pathlib import Path; from trainforge.workspace import Workspace; "
              f"Workspace(Path({str(tmp_path / 'home')!r})).engine; "
              "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_opening_an_older_workspace_migrates_it_with_alembic(tmp_path: Path):
    engine = Workspace(tmp_path / "home").engine
    migrate_to(engine, "0005", down=True)
    engine.dispose()
    script = ("import sys; from pathlib import Path; from trainforge.workspace import Workspace; "
              "from trainforge.store import migrate; "
              f"print(migrate.current_revision(Workspace(Path({str(tmp_path / 'home')!r})).engine),"
              " 'alembic' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == [migrate.HEAD_REVISION, "True"]


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
