"""Alembic environment: runs on the connection the workspace hands over (no alembic.ini)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from trainforge.store.tables import metadata

# an arbitrary constant: the Postgres advisory lock that lets one process migrate at a time
_MIGRATION_LOCK = 7_346_001


def run_migrations_online() -> None:
    connection: sa.Connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": _MIGRATION_LOCK})
        context.run_migrations()


run_migrations_online()
