"""Alembic environment: runs on the connection the workspace hands over (no alembic.ini)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from trainforge.store.migrate import hold_schema_lock
from trainforge.store.tables import metadata


def run_migrations_online() -> None:
    connection: sa.Connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        hold_schema_lock(connection)
        context.run_migrations()


run_migrations_online()
