"""Recording a dataset version (its fingerprint, schema and profile) in the store."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from typing_extensions import TypedDict  # pydantic reads it on Python 3.11

from trainforge.store.clock import utc_now
from trainforge.store.handle import StoreHandle
from trainforge.store.json_values import to_json_value
from trainforge.store.tables import datasets

if TYPE_CHECKING:
    from trainforge.data.dataset import Dataset


class DatasetRecord(TypedDict):
    """One row of ``datasets``: a dataset version, by the fingerprint of its content."""

    id: int
    fingerprint: str
    source: str
    n_rows: int
    n_columns: int
    schema: dict[str, str]  # column -> its kind
    profile: dict[str, Any] | None  # JSON: the profile, when one was recorded
    created_at: datetime
    lineage: dict[str, Any] | None  # where trainforge built it from (a retrain's feedback)


def record_dataset(ws: StoreHandle, dataset: Dataset,
                   profile: dict[str, Any] | None = None, *,
                   lineage: dict[str, Any] | None = None) -> int:
    """Store ``dataset`` once per fingerprint and return its id.

    Recording the same content again returns the first id; a profile given later is kept if
    the first recording had none. ``lineage``: what trainforge built the dataset from.
    """
    row = {
        "fingerprint": dataset.fingerprint,
        "source": dataset.source,
        "n_rows": dataset.n_rows,
        "n_columns": len(dataset.columns),
        "schema": {column: str(kind) for column, kind in dataset.schema.items()},
        "profile": None if profile is None else to_json_value(profile, where="profile"),
        "created_at": utc_now(),
        "lineage": None if lineage is None else to_json_value(lineage, where="lineage"),
    }
    try:
        return _insert_or_find(ws, row)
    except sa.exc.IntegrityError:
        # another process recorded the same content between our select and insert (Postgres)
        return _insert_or_find(ws, row)


def _insert_or_find(ws: StoreHandle, row: dict[str, Any]) -> int:
    with ws.engine.begin() as connection:
        existing = connection.execute(
            sa.select(datasets.c.id, datasets.c.profile)
            .where(datasets.c.fingerprint == row["fingerprint"])).first()
        if existing is None:
            inserted = connection.execute(sa.insert(datasets).values(row)
                                          .returning(datasets.c.id))
            return int(inserted.scalar_one())
        if existing.profile is None and row["profile"] is not None:
            connection.execute(sa.update(datasets).where(datasets.c.id == existing.id)
                               .values(profile=row["profile"]))
        return int(existing.id)


def add_to_profile(ws: StoreHandle, dataset_id: int, section: str,
                   value: dict[str, Any]) -> None:
    """Set ``section`` of the dataset's recorded profile to ``value`` (what a run found
    later, e.g. its label issues), making the profile if none was recorded."""
    with ws.engine.begin() as connection:
        profile = connection.execute(sa.select(datasets.c.profile)
                                     .where(datasets.c.id == dataset_id)).scalar()
        updated = {**(profile or {}), section: to_json_value(value, where=section)}
        connection.execute(sa.update(datasets).where(datasets.c.id == dataset_id)
                           .values(profile=updated))


def get_dataset(ws: StoreHandle, dataset_id: int) -> DatasetRecord | None:
    """The recorded dataset as a dict, or None if no dataset has that id."""
    with ws.engine.connect() as connection:
        row = connection.execute(sa.select(datasets).where(datasets.c.id == dataset_id)).first()
    return None if row is None else _dataset_record(row)


def get_datasets(ws: StoreHandle, dataset_ids: Iterable[int]) -> dict[int, DatasetRecord]:
    """The recorded datasets with these ids, by id (one query for a whole listing)."""
    wanted = sorted(set(dataset_ids))
    if not wanted:
        return {}
    with ws.engine.connect() as connection:
        rows = connection.execute(sa.select(datasets).where(datasets.c.id.in_(wanted))).all()
    return {int(row.id): _dataset_record(row) for row in rows}


def _dataset_record(row: sa.Row[Any]) -> DatasetRecord:
    return DatasetRecord(id=row.id, fingerprint=row.fingerprint, source=row.source,
                         n_rows=row.n_rows, n_columns=row.n_columns, schema=row.schema,
                         profile=row.profile, created_at=row.created_at,
                         lineage=row.lineage)
