"""A database's whole schema, as plain data two databases can be compared by; and a store
built the old way, by running every shipped migration."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from alembic import command

from trainforge.store import migrate


def migrate_to(engine: sa.Engine, revision: str, *, down: bool = False) -> None:
    """Run the shipped migrations up (or ``down``) to ``revision`` with alembic itself: what an
    existing store goes through, whatever ``migrate.upgrade`` does for a new one."""
    with engine.connect() as connection:
        step = command.downgrade if down else command.upgrade
        step(migrate.alembic_config(connection), revision)
        connection.commit()


def schema_of(engine: sa.Engine) -> dict[str, Any]:
    """Every table (the revision's own included) with its columns in order (type, nullability,
    default), primary key, foreign keys (with their ON DELETE), indexes (with a partial
    index's WHERE), unique and check constraints, each by the name the database gives it;
    and the other objects the database holds (triggers, views, sequences)."""
    inspector = sa.inspect(engine)
    tables = {name: {
        "columns": inspector.get_columns(name),
        "primary key": inspector.get_pk_constraint(name),
        "foreign keys": _by_name(inspector.get_foreign_keys(name)),
        "indexes": _by_name(inspector.get_indexes(name)),
        "unique": _by_name(inspector.get_unique_constraints(name)),
        "checks": _by_name(inspector.get_check_constraints(name)),
    } for name in inspector.get_table_names()}
    return _plain({"tables": tables, "other objects": _other_objects(engine)})


def differences_between(created: dict[str, Any], migrated: dict[str, Any]) -> list[str]:
    """Each part of ``schema_of`` two databases where they differ, named (``runs: checks``)
    with both values, so a failing comparison says what to fix."""
    found = [f"other objects: {created['other objects']} != {migrated['other objects']}"
             ] if created["other objects"] != migrated["other objects"] else []
    for table in sorted(set(created["tables"]) | set(migrated["tables"])):
        ours, theirs = created["tables"].get(table), migrated["tables"].get(table)
        if ours is None or theirs is None:
            found.append(f"{table}: only in the {'migrated' if ours is None else 'created'}")
            continue
        found += [f"{table}: {part}: {ours[part]} != {theirs[part]}"
                  for part in ours if ours[part] != theirs[part]]
    return found


def _other_objects(engine: sa.Engine) -> list[Any]:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            # indexes with their SQL (an automatic one has none), triggers, views, and the
            # tables SQLite keeps for itself (sqlite_sequence: a table with AUTOINCREMENT)
            return [tuple(row) for row in connection.execute(sa.text(
                "SELECT type, name, tbl_name, CASE type WHEN 'table' THEN NULL ELSE sql END "
                "FROM sqlite_master ORDER BY type, name"))]
        return [tuple(row) for row in connection.execute(sa.text(
            "SELECT 'trigger', trigger_name, event_object_table, event_manipulation, "
            "action_statement FROM information_schema.triggers "
            "WHERE trigger_schema = current_schema() "
            "UNION ALL SELECT 'view', table_name, '', '', view_definition "
            "FROM information_schema.views WHERE table_schema = current_schema() "
            "UNION ALL SELECT 'sequence', sequence_name, data_type, start_value, increment "
            "FROM information_schema.sequences WHERE sequence_schema = current_schema() "
            "ORDER BY 1, 2"))]


def _by_name(items: list[Any]) -> list[Any]:
    return sorted(items, key=lambda item: str(item.get("name")))


def _plain(value: Any) -> Any:
    """``value`` with SQLAlchemy's objects (types, reflected SQL) as text: a type by its repr
    (``DateTime(timezone=True)``, not ``DATETIME``), SQL with its whitespace collapsed."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, sa.types.TypeEngine):
        return repr(value)
    if isinstance(value, sa.sql.ClauseElement | str):
        return re.sub(r"\s+", " ", str(value)).strip()
    return value
