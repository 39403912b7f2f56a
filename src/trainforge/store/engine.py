"""Opening the store's database: SQLite tuned for several processes at once, or Postgres.

On Postgres the database is another machine's process that may stop and come back: a
connection that fails or is lost raises ``DatabaseUnreachable`` (503 at the server, not a
driver error), connecting gives up after ``POSTGRES_CONNECT_TIMEOUT_S`` rather than hang a
request, and each pooled connection is pinged before use, so once the database is back the
next request reconnects with no restart.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import sqlalchemy as sa

from trainforge.errors import DatabaseUnreachable

SQLITE_BUSY_TIMEOUT_S = 30.0
# a request waits at most this long for a database that does not answer (libpq's
# connect_timeout; a `connect_timeout=` in the URL wins)
POSTGRES_CONNECT_TIMEOUT_S = 5


def create_store_engine(url: str) -> sa.Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
        _tune_sqlite(engine)
        return engine
    parsed = sa.make_url(url)
    timeout = {} if "connect_timeout" in parsed.query else {
        "connect_timeout": POSTGRES_CONNECT_TIMEOUT_S}
    engine = sa.create_engine(parsed, pool_pre_ping=True, connect_args=timeout)
    _report_lost_connections(engine)
    return engine


def shown_url(url: sa.URL) -> str:
    """``url`` fit for a message: without its password, nor its query (libpq also takes
    ``?password=`` there)."""
    return sa.URL.create(url.drivername, username=url.username, host=url.host, port=url.port,
                         database=url.database).render_as_string(hide_password=True)


def _report_lost_connections(engine: sa.Engine) -> None:
    database = shown_url(engine.url)

    @sa.event.listens_for(engine, "handle_error")
    def _on_error(context: sa.engine.ExceptionContext) -> None:
        if context.is_pre_ping:  # the pool reconnects by itself after a failed ping
            return
        # no connection yet: connecting failed; is_disconnect: an open one was lost
        lost = context.connection is None or context.is_disconnect
        if lost and isinstance(context.sqlalchemy_exception, sa.exc.OperationalError):
            raise DatabaseUnreachable(database, detail=str(context.original_exception).strip()
                                      ) from context.sqlalchemy_exception


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
