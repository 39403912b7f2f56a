"""Bringing a store's schema to the newest revision with the migrations shipped in the package."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from trainforge import __version__
from trainforge.errors import StoreUnavailable

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """Alembic settings pointing at the shipped migrations, running on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The revision the installed trainforge expects."""
    head = _scripts().get_current_head()
    if head is None:  # only a broken install ships no migrations
        raise RuntimeError(f"no migrations found in {MIGRATIONS}")
    return head


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at; None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: sa.Engine) -> None:
    """Migrate to head; does nothing (and writes nothing) when already there.

    Raises StoreUnavailable when the database cannot be reached, or when a newer trainforge
    has migrated it past what this one knows.
    """
    database = engine.url.render_as_string(hide_password=True)
    try:
        current = current_revision(engine)
    except sa.exc.OperationalError as error:
        raise StoreUnavailable(database, str(error.orig).strip(),
                               "check TRAINFORGE_DATABASE_URL (or TRAINFORGE_HOME), that the "
                               "server is running and that you may connect") from error
    if current == head_revision():
        return
    known = {script.revision for script in _scripts().walk_revisions()}
    if current is not None and current not in known:
        raise StoreUnavailable(database, f"its schema is at revision {current!r}, which "
                               f"trainforge {__version__} does not know",
                               "a newer trainforge wrote it: upgrade trainforge to use it")
    with engine.connect() as connection:
        command.upgrade(alembic_config(connection), "head")
        connection.commit()
