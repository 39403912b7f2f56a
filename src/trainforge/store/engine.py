"""Opening the store's database: SQLite tuned for several processes at once, or Postgres."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import sqlalchemy as sa

SQLITE_BUSY_TIMEOUT_S = 30.0


def create_store_engine(url: str) -> sa.Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
        _tune_sqlite(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _tune_sqlite(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # let SQLAlchemy, not the sqlite3 module, decide when transactions begin (below)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # IMMEDIATE takes the write lock up front: a transaction that reads then writes
        # (next version = max + 1) waits its turn instead of failing with "database is locked"
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _use_wal(cursor: sqlite3.Cursor) -> None:
    """Switch a database to WAL (it stays so). The switch needs the database to itself and,
    unlike other statements, SQLite does not wait for it under busy_timeout: several processes
    opening a new workspace at once would get "database is locked". So wait here."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
