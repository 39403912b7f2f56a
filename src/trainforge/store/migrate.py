"""Bringing a store's schema to the newest revision with the migrations shipped in the package.

Opening an up-to-date store reads one row and never imports alembic, so commands that only
read (``trainforge models list``) start fast.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from trainforge.errors import DatabaseUnreachable, StoreUnavailable
from trainforge.store.engine import shown_url
from trainforge.version import __version__

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).parent / "migrations"
# the newest file in migrations/versions; a test checks the two agree
HEAD_REVISION = "0008"
_MIGRATING = threading.Lock()


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
    """Migrate to the newest revision; does nothing (and writes nothing) when already there.

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


def _upgrade_from(engine: sa.Engine, database: str, current: str | None) -> None:
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
