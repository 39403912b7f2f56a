"""Labeling projects in the store: the project, its items, its labels (a skip is a label row
with no class) and the quick model's scores.

A label is never overwritten: labelling an item again adds a row and marks the annotator's
previous one ``replaced_at``; undo marks the annotator's latest row the same way. A unique
index allows one current row per item and annotator, so two annotators labelling the same
item at once are both recorded, and one annotator's double click leaves one current label.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from typing_extensions import TypedDict  # pydantic reads it on Python 3.11

from trainforge.errors import ItemNotFound, LabelingProjectExists, LabelingProjectNotFound
from trainforge.json_value import JSONValue
from trainforge.store.clock import as_utc, utc_now
from trainforge.store.handle import StoreHandle
from trainforge.store.tables import (
    labeling_items,
    labeling_labels,
    labeling_projects,
    labeling_scores,
)

_ITEMS_PER_INSERT = 5_000  # keeps each statement's bound parameters well under SQLite's cap
_FIRST_CANDIDATES = 20  # of the quick model's order, checked open first (first_open)
_current = labeling_labels.c.replaced_at.is_(None)


class NewProject(TypedDict):
    name: str
    classes: list[str]
    modality: str  # text, image or table
    source: str
    item_column: str | None
    target: str
    overlap: int
    created_by: str | None


class ProjectRecord(NewProject):
    id: int
    created_at: datetime


class LabelRecord(TypedDict):
    """A current label (or skip, ``label`` None) of an item."""

    id: int
    item_id: int
    position: int
    annotator: str
    label: str | None
    note: str | None
    final: bool
    created_at: datetime


def create_project(ws: StoreHandle, project: NewProject,
                   payloads: Sequence[dict[str, JSONValue]]) -> ProjectRecord:
    """Record ``project`` with one item per payload, in order, in one transaction."""
    created_at = utc_now()
    try:
        with ws.engine.begin() as connection:
            project_id = int(connection.execute(
                sa.insert(labeling_projects).values(**project, created_at=created_at)
                .returning(labeling_projects.c.id)).scalar_one())
            for start in range(0, len(payloads), _ITEMS_PER_INSERT):
                connection.execute(sa.insert(labeling_items), [
                    {"project_id": project_id, "position": start + offset, "payload": payload}
                    for offset, payload in enumerate(payloads[start:start + _ITEMS_PER_INSERT])])
    except sa.exc.IntegrityError:
        raise LabelingProjectExists(project["name"]) from None
    return ProjectRecord(**project, id=project_id, created_at=created_at)


def add_items(ws: StoreHandle, project: ProjectRecord,
              payloads: Sequence[dict[str, JSONValue]]) -> int:
    """Append one item per payload to ``project``, after its last, in one transaction;
    returns the position of the first one added."""
    with ws.engine.begin() as connection:
        first = int(connection.execute(
            sa.select(sa.func.coalesce(sa.func.max(labeling_items.c.position) + 1, 0))
            .where(labeling_items.c.project_id == project["id"])).scalar_one())
        for start in range(0, len(payloads), _ITEMS_PER_INSERT):
            connection.execute(sa.insert(labeling_items), [
                {"project_id": project["id"], "position": first + start + offset,
                 "payload": payload}
                for offset, payload in enumerate(payloads[start:start + _ITEMS_PER_INSERT])])
    return first


def get_project(ws: StoreHandle, name: str) -> ProjectRecord:
    with ws.engine.connect() as connection:
        row = connection.execute(sa.select(labeling_projects)
                                 .where(labeling_projects.c.name == name)).first()
    if row is None:
        raise LabelingProjectNotFound(name)
    return _project(row)


def list_projects(ws: StoreHandle) -> list[ProjectRecord]:
    with ws.engine.connect() as connection:
        rows = connection.execute(sa.select(labeling_projects)
                                  .order_by(labeling_projects.c.name)).all()
    return [_project(row) for row in rows]


def _project(row: sa.Row[Any]) -> ProjectRecord:
    return ProjectRecord(id=row.id, name=row.name, classes=list(row.classes),
                         modality=row.modality, source=row.source, item_column=row.item_column,
                         target=row.target, overlap=row.overlap, created_by=row.created_by,
                         created_at=as_utc(row.created_at))


def _n_items(project_id: int) -> sa.Select[Any]:
    # positions run 0..n-1 (create_project and add_items number them so): the last one is
    # an index seek, where counting reads the whole index (14 ms at 100,000 items)
    return (sa.select(sa.func.coalesce(sa.func.max(labeling_items.c.position) + 1, 0))
            .where(labeling_items.c.project_id == project_id))


def count_items(ws: StoreHandle, project_id: int) -> int:
    with ws.engine.connect() as connection:
        return int(connection.execute(_n_items(project_id)).scalar_one())


def item_payload(ws: StoreHandle, project: ProjectRecord, position: int) -> dict[str, Any]:
    """The payload of item ``position`` of ``project``; ItemNotFound if it has none."""
    with ws.engine.connect() as connection:
        payload = connection.execute(sa.select(labeling_items.c.payload).where(
            labeling_items.c.project_id == project["id"],
            labeling_items.c.position == position)).scalar()
    if payload is None:
        raise ItemNotFound(project["name"], position)
    return dict(payload)


def all_items(ws: StoreHandle, project_id: int) -> list[tuple[int, dict[str, Any]]]:
    """Every item's ``(position, payload)``, in order."""
    with ws.engine.connect() as connection:
        rows = connection.execute(
            sa.select(labeling_items.c.position, labeling_items.c.payload)
            .where(labeling_items.c.project_id == project_id)
            .order_by(labeling_items.c.position)).all()
    return [(int(row.position), dict(row.payload)) for row in rows]


def _item_id(connection: sa.Connection, project: ProjectRecord, position: int) -> int:
    found = connection.execute(sa.select(labeling_items.c.id).where(
        labeling_items.c.project_id == project["id"],
        labeling_items.c.position == position)).scalar()
    if found is None:
        raise ItemNotFound(project["name"], position)
    return int(found)


def add_label(ws: StoreHandle, project: ProjectRecord, position: int, *, annotator: str,
              label: str | None, note: str | None = None, final: bool = False) -> None:
    """Record ``annotator``'s label (None: a skip) for item ``position``, replacing (marking)
    the annotator's current one; one transaction."""
    now = utc_now()
    try:
        _write_label(ws, project, position, annotator=annotator, label=label, note=note,
                     final=final, now=now)
    except sa.exc.IntegrityError:
        # the same annotator's other request won the race for the one current row: ours is
        # the later one, so it replaces that one
        _write_label(ws, project, position, annotator=annotator, label=label, note=note,
                     final=final, now=now)


def _write_label(ws: StoreHandle, project: ProjectRecord, position: int, *, annotator: str,
                 label: str | None, note: str | None, final: bool, now: datetime) -> None:
    with ws.engine.begin() as connection:
        item_id = _item_id(connection, project, position)
        connection.execute(sa.update(labeling_labels).where(
            labeling_labels.c.item_id == item_id, labeling_labels.c.annotator == annotator,
            _current).values(replaced_at=now))
        connection.execute(sa.insert(labeling_labels).values(
            project_id=project["id"], item_id=item_id, annotator=annotator, label=label,
            note=note, final=final, created_at=now))


def add_labels(ws: StoreHandle, project: ProjectRecord,
               labels: Sequence[tuple[int, str, str, str | None]]) -> int:
    """Record many ``(position, annotator, label, note)`` at once (an import), each replacing that
    annotator's current label of the item; returns how many were written."""
    now = utc_now()
    with ws.engine.begin() as connection:
        ids = {int(row.position): int(row.id) for row in connection.execute(
            sa.select(labeling_items.c.position, labeling_items.c.id)
            .where(labeling_items.c.project_id == project["id"]))}
        for position, annotator, label, note in labels:
            item_id = ids.get(position)
            if item_id is None:
                raise ItemNotFound(project["name"], position)
            connection.execute(sa.update(labeling_labels).where(
                labeling_labels.c.item_id == item_id, labeling_labels.c.annotator == annotator,
                _current).values(replaced_at=now))
            connection.execute(sa.insert(labeling_labels).values(
                project_id=project["id"], item_id=item_id, annotator=annotator, label=label,
                note=note, final=False, created_at=now))
    return len(labels)


def undo_last(ws: StoreHandle, project: ProjectRecord, *, annotator: str) -> int | None:
    """Mark ``annotator``'s latest current label or skip in ``project`` replaced; the item's
    position, or None when there was nothing to undo."""
    with ws.engine.begin() as connection:
        row = connection.execute(
            sa.select(labeling_labels.c.id, labeling_items.c.position)
            .join(labeling_items, labeling_items.c.id == labeling_labels.c.item_id)
            .where(labeling_labels.c.project_id == project["id"],
                   labeling_labels.c.annotator == annotator, _current)
            .order_by(labeling_labels.c.id.desc()).limit(1)).first()
        if row is None:
            return None
        connection.execute(sa.update(labeling_labels).where(labeling_labels.c.id == row.id)
                           .values(replaced_at=utc_now()))
    return int(row.position)


def current_labels(ws: StoreHandle, project_id: int) -> list[LabelRecord]:
    """Every current label and skip of the project, oldest first."""
    query = (sa.select(labeling_labels, labeling_items.c.position)
             .join(labeling_items, labeling_items.c.id == labeling_labels.c.item_id)
             .where(labeling_labels.c.project_id == project_id, _current)
             .order_by(labeling_labels.c.id))
    with ws.engine.connect() as connection:
        rows = connection.execute(query).all()
    return [LabelRecord(id=row.id, item_id=row.item_id, position=row.position,
                        annotator=row.annotator, label=row.label, note=row.note,
                        final=bool(row.final), created_at=as_utc(row.created_at))
            for row in rows]


def count_labels(ws: StoreHandle, project_id: int) -> int:
    """How many current labels (not skips) the project has: the quick model's freshness."""
    with ws.engine.connect() as connection:
        return int(connection.execute(
            sa.select(sa.func.count()).select_from(labeling_labels)
            .where(labeling_labels.c.project_id == project_id, _current,
                   labeling_labels.c.label.is_not(None))).scalar_one())


def progress(ws: StoreHandle, project_id: int) -> tuple[int, int]:
    """``(items, items with a label)``: two counts, cheap enough for every labeling answer."""
    labelled = (sa.select(sa.func.count(sa.distinct(labeling_labels.c.item_id)))
                .where(labeling_labels.c.project_id == project_id, _current,
                       labeling_labels.c.label.is_not(None)))
    with ws.engine.connect() as connection:
        n_items = connection.execute(_n_items(project_id)).scalar_one()
        return int(n_items), int(connection.execute(labelled).scalar_one())


# ---- the queue: which item an annotator sees next ---------------------------------------------
def _open_for(annotator: str, overlap: int) -> sa.ColumnElement[bool]:
    """An item still open to ``annotator``: not labelled or skipped by them, not settled, and
    with fewer than ``overlap`` labels."""
    mine_or_final = sa.exists().where(
        labeling_labels.c.item_id == labeling_items.c.id, _current,
        sa.or_(labeling_labels.c.annotator == annotator, labeling_labels.c.final))
    labelled = (sa.select(sa.func.count()).select_from(labeling_labels)
                .where(labeling_labels.c.item_id == labeling_items.c.id, _current,
                       labeling_labels.c.label.is_not(None)).scalar_subquery())
    return sa.and_(~mine_or_final, labelled < overlap)


def needing_another_label(ws: StoreHandle, project: ProjectRecord, *, annotator: str
                          ) -> int | None:
    """The position of the item labelled longest ago that has some labels but fewer than the
    project's overlap, and none from ``annotator``; None when there is none."""
    if project["overlap"] < 2:
        return None
    mine = sa.func.sum(sa.case((labeling_labels.c.annotator == annotator, 1), else_=0))
    finals = sa.func.sum(sa.case((labeling_labels.c.final, 1), else_=0))
    query = (sa.select(labeling_items.c.position)
             .join(labeling_items, labeling_items.c.id == labeling_labels.c.item_id)
             .where(labeling_labels.c.project_id == project["id"], _current)
             .group_by(labeling_labels.c.item_id, labeling_items.c.position)
             .having(sa.and_(sa.func.count(labeling_labels.c.label) >= 1,
                             sa.func.count(labeling_labels.c.label) < project["overlap"],
                             mine == 0, finals == 0))
             .order_by(sa.func.min(labeling_labels.c.id)).limit(1))
    with ws.engine.connect() as connection:
        found = connection.execute(query).scalar()
    return None if found is None else int(found)


def first_open(ws: StoreHandle, project: ProjectRecord, *, annotator: str,
               among: Sequence[int] | None = None) -> int | None:
    """The first position open to ``annotator``: in source order, or, given ``among``
    (positions, best first), the first of those still open."""
    query = sa.select(labeling_items.c.position).where(
        labeling_items.c.project_id == project["id"],
        _open_for(annotator, project["overlap"]))
    with ws.engine.connect() as connection:
        if among is None:
            found = connection.execute(query.order_by(labeling_items.c.position).limit(1))
            position = found.scalar()
            return None if position is None else int(position)
        candidates = list(among)
        # the first few, then the rest: the first few are nearly always open, and each
        # candidate costs its own subqueries
        for chunk in (candidates[:_FIRST_CANDIDATES], candidates[_FIRST_CANDIDATES:]):
            still_open = {int(p) for p in connection.execute(
                query.where(labeling_items.c.position.in_(chunk))).scalars()}
            best = next((p for p in chunk if p in still_open), None)
            if best is not None:
                return best
    return None


def disagreements(ws: StoreHandle, project_id: int, *, limit: int = 100) -> list[int]:
    """Positions of items whose annotators gave different classes and that no reviewer has
    settled, oldest first."""
    finals = sa.func.sum(sa.case((labeling_labels.c.final, 1), else_=0))
    query = (sa.select(labeling_items.c.position)
             .join(labeling_items, labeling_items.c.id == labeling_labels.c.item_id)
             .where(labeling_labels.c.project_id == project_id, _current)
             .group_by(labeling_labels.c.item_id, labeling_items.c.position)
             .having(sa.and_(sa.func.count(sa.distinct(labeling_labels.c.label)) > 1,
                             finals == 0))
             .order_by(sa.func.min(labeling_labels.c.id)).limit(limit))
    with ws.engine.connect() as connection:
        return [int(p) for p in connection.execute(query).scalars()]


# ---- the quick model's scores -----------------------------------------------------------------
def record_score(ws: StoreHandle, project_id: int, *, n_labels: int, score: float) -> None:
    with ws.engine.begin() as connection:
        connection.execute(sa.insert(labeling_scores).values(
            project_id=project_id, n_labels=n_labels, score=score, at=utc_now()))


def scores(ws: StoreHandle, project_id: int) -> list[tuple[int, float]]:
    """``(n_labels, score)`` of each refit, by number of labels."""
    with ws.engine.connect() as connection:
        rows = connection.execute(
            sa.select(labeling_scores.c.n_labels, labeling_scores.c.score)
            .where(labeling_scores.c.project_id == project_id)
            .order_by(labeling_scores.c.n_labels, labeling_scores.c.id)).all()
    return [(int(row.n_labels), float(row.score)) for row in rows]
