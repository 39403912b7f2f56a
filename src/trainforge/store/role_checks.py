"""Changing which roles a table's ``role`` column allows: what a migration that adds a role
runs (0006 added the annotator, 0008 the client)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def allow_roles(table: str, check: str) -> None:
    """Replace ``table``'s role check by ``check`` (on SQLite, which cannot alter a CHECK, by a
    copy of the table)."""
    name = op.f(f"ck_{table}_role")
    if op.get_bind().dialect.name == "sqlite":
        # the copy is made from the reflected table less its role check, which reflection
        # gives unnamed (so the batch cannot drop it by name)
        copied = sa.Table(table, sa.MetaData(), autoload_with=op.get_bind())
        for old in [c for c in copied.constraints if isinstance(c, sa.CheckConstraint)
                    and "role IN" in str(c.sqltext)]:
            copied.constraints.discard(old)
        with op.batch_alter_table(table, recreate="always", copy_from=copied) as batch:
            batch.create_check_constraint(name, check)
    else:
        # dropped by the name the database gave it (0003 created it under the metadata's
        # naming convention, so the name is not the one written there)
        for found in sa.inspect(op.get_bind()).get_check_constraints(table):
            if "role" in str(found.get("sqltext", "")) and found.get("name"):
                op.drop_constraint(op.f(str(found["name"])), table, type_="check")
        op.create_check_constraint(name, table, check)
