"""The models the server's prediction router answers for, kept across restarts, and the
history of every change of what each one serves (who, when, why)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from typing_extensions import TypedDict  # pydantic reads it on Python 3.11

from trainforge.json_value import JSONValue
from trainforge.store.clock import as_utc, utc_now
from trainforge.store.handle import StoreHandle
from trainforge.store.tables import deployment_events, deployments

Action = Literal["deploy", "promote", "rollback", "undeploy", "shadow_on", "shadow_off"]
SERVING_ACTIONS = ("deploy", "promote", "rollback")  # the ones that change the champion


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
    shadow_model: str | None  # the challenger answering a copy of the traffic, in shadow
    shadow_version: int | None
    promotion_rule: dict[str, JSONValue] | None  # PromotionRule.to_dict(); None: manual only


class DeploymentEvent(TypedDict):
    """One change of what deployment ``deployment`` serves (or shadows)."""

    deployment: str
    at: datetime
    action: str
    model_name: str | None  # what serves (or shadows) after the change
    from_model: str | None  # what served before it
    from_version: int | None
    to_version: int | None
    by: str | None
    reason: str | None


def _record(row: sa.Row[tuple[object, ...]]) -> DeploymentRecord:
    return DeploymentRecord(name=row.name, model_name=row.model_name,
                            model_version=row.model_version, requested=row.requested,
                            deployed_by=row.deployed_by, created_at=as_utc(row.created_at),
                            log_policy=row.log_policy, shadow_model=row.shadow_model,
                            shadow_version=row.shadow_version,
                            promotion_rule=row.promotion_rule)


def _current(connection: sa.Connection, name: str) -> DeploymentRecord | None:
    row = connection.execute(sa.select(deployments).where(deployments.c.name == name)).first()
    return None if row is None else _record(row)


def _event(connection: sa.Connection, *, deployment: str, action: Action,
           model_name: str | None, from_model: str | None, from_version: int | None,
           to_version: int | None, by: str | None, reason: str | None) -> None:
    connection.execute(sa.insert(deployment_events).values(
        deployment=deployment, at=utc_now(), action=action, model_name=model_name,
        from_model=from_model, from_version=from_version, to_version=to_version, by=by,
        reason=reason))


def save_deployment(ws: StoreHandle, *, name: str, model_name: str, model_version: int,
                    requested: str, deployed_by: str | None,
                    log_policy: dict[str, JSONValue] | None = None,
                    shadow: tuple[str, int] | None = None, action: Action = "deploy",
                    reason: str | None = None) -> DeploymentRecord:
    """Record that URL name ``name`` serves ``model_name:model_version`` (replacing what it
    served before, keeping its promotion rule), with ``shadow`` (model, version) answering a
    copy of its traffic; the change goes into the history as ``action`` in the same
    transaction. Returns the row."""
    with ws.engine.begin() as connection:
        was = _current(connection, name)
        row = DeploymentRecord(
            name=name, model_name=model_name, model_version=model_version,
            requested=requested, deployed_by=deployed_by, created_at=utc_now(),
            log_policy=log_policy, shadow_model=None if shadow is None else shadow[0],
            shadow_version=None if shadow is None else shadow[1],
            promotion_rule=None if was is None else was["promotion_rule"])
        connection.execute(sa.delete(deployments).where(deployments.c.name == name))
        connection.execute(sa.insert(deployments).values(row))
        _event(connection, deployment=name, action=action, model_name=model_name,
               from_model=None if was is None else was["model_name"],
               from_version=None if was is None else was["model_version"],
               to_version=model_version, by=deployed_by, reason=reason)
        had = None if was is None or was["shadow_model"] is None else (
            was["shadow_model"], was["shadow_version"])
        if shadow != had and action != "promote":  # a promotion's shadow now serves
            if had is not None:
                _event(connection, deployment=name, action="shadow_off", model_name=had[0],
                       from_model=None, from_version=had[1], to_version=None,
                       by=deployed_by, reason=reason)
            if shadow is not None:
                _event(connection, deployment=name, action="shadow_on", model_name=shadow[0],
                       from_model=None, from_version=None, to_version=shadow[1],
                       by=deployed_by, reason=reason)
    return row


def set_shadow(ws: StoreHandle, name: str, *, shadow: tuple[str, int] | None,
               by: str | None, reason: str | None = None) -> DeploymentRecord | None:
    """Give deployment ``name`` the shadow (model, version), or none; None when there is
    no such deployment. Recorded as shadow_on or shadow_off."""
    with ws.engine.begin() as connection:
        was = _current(connection, name)
        if was is None:
            return None
        connection.execute(sa.update(deployments).where(deployments.c.name == name).values(
            shadow_model=None if shadow is None else shadow[0],
            shadow_version=None if shadow is None else shadow[1], created_at=utc_now()))
        _event(connection, deployment=name, action="shadow_off" if shadow is None
               else "shadow_on", model_name=(was["shadow_model"] if shadow is None
                                             else shadow[0]),
               from_model=None, from_version=was["shadow_version"],
               to_version=None if shadow is None else shadow[1], by=by, reason=reason)
        return _current(connection, name)


def set_promotion_rule(ws: StoreHandle, name: str,
                       rule: dict[str, JSONValue] | None) -> DeploymentRecord | None:
    """Store when deployment ``name``'s shadow is promoted by itself (None: only by hand);
    None when there is no such deployment."""
    with ws.engine.begin() as connection:
        changed = connection.execute(sa.update(deployments).where(
            deployments.c.name == name).values(promotion_rule=rule))
        return _current(connection, name) if changed.rowcount else None


def remove_deployment(ws: StoreHandle, name: str, *, by: str | None = None,
                      reason: str | None = None) -> bool:
    """Forget deployment ``name`` (recorded as undeploy); False when there was none."""
    with ws.engine.begin() as connection:
        was = _current(connection, name)
        if was is None:
            return False
        connection.execute(sa.delete(deployments).where(deployments.c.name == name))
        _event(connection, deployment=name, action="undeploy", model_name=was["model_name"],
               from_model=was["model_name"], from_version=was["model_version"],
               to_version=None, by=by, reason=reason)
    return True


def list_deployments(ws: StoreHandle) -> list[DeploymentRecord]:
    """Every recorded deployment, by name."""
    with ws.engine.connect() as connection:
        rows = connection.execute(sa.select(deployments).order_by(deployments.c.name)).all()
    return [_record(row) for row in rows]


def get_deployment(ws: StoreHandle, name: str) -> DeploymentRecord | None:
    with ws.engine.connect() as connection:
        return _current(connection, name)


def list_events(ws: StoreHandle, name: str, *, limit: int = 100) -> list[DeploymentEvent]:
    """Deployment ``name``'s history, newest first (at most ``limit`` changes)."""
    table = deployment_events
    with ws.engine.connect() as connection:
        rows = connection.execute(sa.select(table).where(table.c.deployment == name)
                                  .order_by(table.c.at.desc(), table.c.id.desc())
                                  .limit(limit)).all()
    return [DeploymentEvent(deployment=r.deployment, at=as_utc(r.at), action=r.action,
                            model_name=r.model_name, from_model=r.from_model,
                            from_version=r.from_version, to_version=r.to_version, by=r.by,
                            reason=r.reason)
            for r in rows]


def previous_version(ws: StoreHandle, name: str) -> tuple[str, int] | None:
    """What deployment ``name`` served before its current version, or None: the history
    read as a stack (a deploy or promotion pushes, a rollback pops, an undeploy empties),
    so rolling back twice goes two versions back."""
    table = deployment_events
    with ws.engine.connect() as connection:
        rows = connection.execute(sa.select(table).where(
            table.c.deployment == name,
            table.c.action.in_([*SERVING_ACTIONS, "undeploy"])).order_by(table.c.id)).all()
    served: list[tuple[str, int]] = []
    for row in rows:
        if row.action == "undeploy":
            served.clear()
        elif row.action == "rollback":
            del served[-1:]
        elif not served or served[-1] != (row.model_name, row.to_version):
            served.append((row.model_name, row.to_version))
    return served[-2] if len(served) > 1 else None


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
