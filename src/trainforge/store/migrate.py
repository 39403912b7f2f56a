"""Bringing a store's schema to the newest revision.

A new store (a database with no tables yet) is created from the table definitions and stamped
with the newest revision, as alembic would stamp it; an older store runs the migrations shipped
in the package. Only the latter imports alembic: opening an up-to-date store reads one row and
opening a new one creates its tables, so commands that only read (``trainforge models list``)
start fast and a first training does not carry alembic (~10 MB of a process's memory).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from trainforge.errors import DatabaseUnreachable, StoreUnavailable
from trainforge.store.engine import shown_url
from trainforge.store.tables import metadata
from trainforge.version import __version__

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).parent / "migrations"
# the newest file in migrations/versions; a test checks the two agree
HEAD_REVISION = "0008"
_MIGRATING = threading.Lock()
# an arbitrary constant: the Postgres advisory lock that lets one process change the schema at
# a time (SQLite's equivalent is the write lock every transaction takes: engine.py)
_SCHEMA_LOCK = 7_346_001

# alembic's own record of the revision, as alembic creates it (``alembic.runtime.migration``):
# a stamped store then migrates with alembic like any other
_versions = sa.MetaData()
alembic_version = sa.Table(
    "alembic_version", _versions,
    sa.Column("version_num", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """Alembic settings pointing at the shipped migrations, running on ``connection``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def scripts() -> ScriptDirectory:
    """The shipped migrations, as alembic sees them."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at; None for an empty database."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: sa.Engine) -> None:
    """Bring the store to the newest revision: create a new one (``create_new``), migrate an
    older one; does nothing (and writes nothing) when already there.

    Raises StoreUnavailable when the database cannot be reached, or when a newer trainforge
    has migrated it past what this one knows.
    """
    database = shown_url(engine.url)
    try:
        current = current_revision(engine)
    except (sa.exc.OperationalError, DatabaseUnreachable) as error:
        # opening is the operator's moment (a command, the server starting): say the driver's
        # own reason, a refused connection or a wrong password
        detail = error.detail if isinstance(error, DatabaseUnreachable) else str(error.orig)
        raise StoreUnavailable(database, detail.strip(),
                               "check TRAINFORGE_DATABASE_URL (or TRAINFORGE_HOME), that the "
                               "server is running and that you may connect") from error
    if current == HEAD_REVISION:
        return
    # alembic keeps its running migration in module globals: one at a time per process (other
    # processes wait on the database's own lock)
    with _MIGRATING:
        _upgrade_from(engine, database, current_revision(engine))


def hold_schema_lock(connection: sa.Connection) -> None:
    """Wait for, and hold until the transaction ends, the right to change the schema: one
    process creates or migrates a store at a time, and the others then find it done."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})


def create_new(engine: sa.Engine) -> bool:
    """Create the newest schema from the table definitions and stamp it with the newest
    revision, if the database has no tables at all; returns whether it did.

    One transaction: another process opening the same new store waits, then finds it made.
    """
    with engine.begin() as connection:
        hold_schema_lock(connection)
        if sa.inspect(connection).get_table_names():
            return False
        metadata.create_all(connection, checkfirst=False)
        _versions.create_all(connection, checkfirst=False)
        connection.execute(alembic_version.insert().values(version_num=HEAD_REVISION))
    return True


def _upgrade_from(engine: sa.Engine, database: str, current: str | None) -> None:
    if current is None and create_new(engine):
        return
    if current is None:  # tables but no revision, or another process made the store meanwhile
        current = current_revision(engine)
    if current == HEAD_REVISION:
        return
    if current is not None and current not in {s.revision for s in scripts().walk_revisions()}:
        raise StoreUnavailable(database, f"its schema is at revision {current!r}, which "
                               f"trainforge {__version__} does not know",
                               "a newer trainforge wrote it: upgrade trainforge to use it")
    from alembic import command

    with engine.connect() as connection:
        command.upgrade(alembic_config(connection), "head")
        connection.commit()
