"""Bringing a store's schema to the newest revision with the migrations shipped in the package."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """Alembic settings pointing at the shipped migrations, running on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The revision the installed trainforge expects."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # only a broken install ships no migrations
        raise RuntimeError(f"no migrations found in {MIGRATIONS}")
    return head


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at; None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: sa.Engine) -> None:
    """Migrate to head; does nothing (and writes nothing) when already there."""
    if current_revision(engine) == head_revision():
        return
    with engine.connect() as connection:
        command.upgrade(alembic_config(connection), "head")
        connection.commit()
