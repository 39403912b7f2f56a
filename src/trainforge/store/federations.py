"""Federations in the store: what each was created with, where it stands, and who joined.

A federation moves ``waiting → running → succeeded | failed``: it waits for its holders to
join (each with a client token) and for the coordinator job to listen, runs its rounds, and
ends with a registered model version or the reason it failed. A member row holds the summary
a holder sent when it joined (its columns and their kinds, the classes it has, its row
count), never a row of its data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from typing_extensions import TypedDict  # pydantic reads it on Python 3.11

from trainforge.errors import FederationExists, FederationNotFound
from trainforge.store.clock import as_utc, utc_now
from trainforge.store.handle import StoreHandle
from trainforge.store.json_values import to_json_value
from trainforge.store.tables import federation_members, federations

FINISHED = ("succeeded", "failed")


class MemberRecord(TypedDict):
    client: str  # the client token's name
    summary: dict[str, Any]  # columns with their kinds, classes, n_rows
    joined_at: datetime


class FederationRecord(TypedDict):
    name: str
    settings: dict[str, Any]  # the FederationConfig, as JSON
    schema: dict[str, Any]  # the DeclaredSchema, as JSON
    state: str  # one of tables.FEDERATION_STATES
    address: str | None  # the coordinator's gRPC address, once it listens
    current_round: int  # the last round that ended (0 before the first)
    job_id: str | None
    run_id: str | None
    model_name: str | None
    model_version: int | None
    error: str | None
    created_by: str | None
    created_at: datetime
    finished_at: datetime | None
    members: list[MemberRecord]


def create_federation(ws: StoreHandle, *, name: str, settings: dict[str, Any],
                      schema: dict[str, Any], created_by: str | None) -> None:
    """Record a new federation, waiting; FederationExists when the name is taken."""
    try:
        with ws.engine.begin() as connection:
            connection.execute(sa.insert(federations).values(
                name=name, settings=to_json_value(settings, where="settings"),
                schema=to_json_value(schema, where="schema"), state="waiting",
                current_round=0, created_by=created_by, created_at=utc_now()))
    except sa.exc.IntegrityError:
        raise FederationExists(name) from None


def update_federation(ws: StoreHandle, name: str, **values: Any) -> None:
    """Set some of a federation's columns (``state``, ``address``, ``current_round``,
    ``job_id``, ``run_id``, ``model_name``, ``model_version``, ``error``); a finishing state
    records when."""
    if values.get("state") in FINISHED:
        values["finished_at"] = utc_now()
    with ws.engine.begin() as connection:
        done = connection.execute(sa.update(federations).where(federations.c.name == name)
                                  .values(**values))
    if done.rowcount == 0:
        raise FederationNotFound(name)


def record_member(ws: StoreHandle, name: str, *, client: str, summary: dict[str, Any]) -> None:
    """Record that ``client`` joined ``name`` with data as ``summary`` describes; joining again
    (a holder restarting) replaces its summary."""
    row = {"federation": name, "client": client, "joined_at": utc_now(),
           "summary": to_json_value(summary, where="summary")}
    with ws.engine.begin() as connection:
        connection.execute(sa.delete(federation_members).where(
            federation_members.c.federation == name, federation_members.c.client == client))
        connection.execute(sa.insert(federation_members).values(row))


def get_federation(ws: StoreHandle, name: str) -> FederationRecord:
    with ws.engine.connect() as connection:
        row = connection.execute(sa.select(federations)
                                 .where(federations.c.name == name)).first()
        if row is None:
            raise FederationNotFound(name)
        return _record(row, _members(connection, [name]).get(name, []))


def list_federations(ws: StoreHandle, *, limit: int = 100) -> list[FederationRecord]:
    """The newest federations first, each with its members."""
    with ws.engine.connect() as connection:
        rows = connection.execute(sa.select(federations)
                                  .order_by(federations.c.created_at.desc()).limit(limit)).all()
        members = _members(connection, [row.name for row in rows])
    return [_record(row, members.get(row.name, [])) for row in rows]


def _members(connection: sa.Connection, names: list[str]) -> dict[str, list[MemberRecord]]:
    found: dict[str, list[MemberRecord]] = {}
    if not names:
        return found
    rows = connection.execute(sa.select(federation_members)
                              .where(federation_members.c.federation.in_(names))
                              .order_by(federation_members.c.joined_at)).all()
    for row in rows:
        found.setdefault(row.federation, []).append(MemberRecord(
            client=row.client, summary=row.summary, joined_at=as_utc(row.joined_at)))
    return found


def _record(row: sa.Row[Any], members: list[MemberRecord]) -> FederationRecord:
    return FederationRecord(
        name=row.name, settings=row.settings, schema=row.schema, state=row.state,
        address=row.address, current_round=row.current_round, job_id=row.job_id,
        run_id=row.run_id, model_name=row.model_name, model_version=row.model_version,
        error=row.error, created_by=row.created_by, created_at=as_utc(row.created_at),
        finished_at=as_utc(row.finished_at), members=members)
