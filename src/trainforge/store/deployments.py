"""The models the server's prediction router answers for, kept across restarts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from typing_extensions import TypedDict  # pydantic reads it on Python 3.11

from trainforge.json_value import JSONValue
from trainforge.store.clock import as_utc, utc_now
from trainforge.store.handle import StoreHandle
from trainforge.store.tables import deployments


class DeploymentRecord(TypedDict):
    """One row of ``deployments``: URL name ``name`` serves that model version."""

    name: str
    model_name: str
    model_version: int
    requested: str  # what was asked: NAME, NAME:VERSION or NAME@ALIAS
    deployed_by: str | None
    created_at: datetime
    # what its prediction log keeps (LogPolicy.to_dict()); None: every request, every column
    log_policy: dict[str, JSONValue] | None


def save_deployment(ws: StoreHandle, *, name: str, model_name: str, model_version: int,
                    requested: str, deployed_by: str | None,
                    log_policy: dict[str, JSONValue] | None = None) -> DeploymentRecord:
    """Record that URL name ``name`` serves ``model_name:model_version`` (replacing what it
    served before); returns the row."""
    row = DeploymentRecord(name=name, model_name=model_name, model_version=model_version,
                           requested=requested, deployed_by=deployed_by, created_at=utc_now(),
                           log_policy=log_policy)
    with ws.engine.begin() as connection:
        connection.execute(sa.delete(deployments).where(deployments.c.name == name))
        connection.execute(sa.insert(deployments).values(row))
    return row


def remove_deployment(ws: StoreHandle, name: str) -> bool:
    """Forget deployment ``name``; False when there was none."""
    with ws.engine.begin() as connection:
        removed = connection.execute(sa.delete(deployments).where(deployments.c.name == name))
    return bool(removed.rowcount)


def list_deployments(ws: StoreHandle) -> list[DeploymentRecord]:
    """Every recorded deployment, by name."""
    with ws.engine.connect() as connection:
        rows = connection.execute(sa.select(deployments).order_by(deployments.c.name)).all()
    return [DeploymentRecord(name=row.name, model_name=row.model_name,
                             model_version=row.model_version, requested=row.requested,
                             deployed_by=row.deployed_by, created_at=as_utc(row.created_at),
                             log_policy=row.log_policy)
            for row in rows]


def serving(connection: sa.Connection, *, model_name: str, versions: Sequence[int]) -> list[str]:
    """The names of the deployments that serve one of ``versions`` of ``model_name``, read
    in the caller's transaction (a model deletion checks and deletes in one)."""
    rows = connection.execute(sa.select(deployments.c.name).where(
        deployments.c.model_name == model_name, deployments.c.model_version.in_(versions))
        .order_by(deployments.c.name)).scalars()
    return list(rows)


def remove_serving(connection: sa.Connection, *, model_name: str,
                   versions: Sequence[int]) -> None:
    """Forget the deployments of ``versions`` of ``model_name`` (a forced model deletion);
    every server process stops serving them at its next sync."""
    connection.execute(sa.delete(deployments).where(
        deployments.c.model_name == model_name, deployments.c.model_version.in_(versions)))
