"""The table a retrain learns from, as its policy's ``train_on`` names it, written to the
workspace as a new dataset version with its lineage.

The labelled feedback is turned back into training rows: each logged ``in.<feature>`` column
becomes the feature, the label becomes the target (named as in the original training). For
``original+feedback`` the model's own training data (its package's ``dataset_source``, checked
against its ``dataset_fingerprint``) comes first. A feature the log excluded or hashed cannot
be read back, and is refused by name.

The file is written as an upload (``<artifacts>/uploads/<id>/``), so a queued train job reads
it like any uploaded table, and recorded in ``datasets`` with its lineage: the deployments,
the time window and request ids of the predictions, the number of labels, and the parent
(original) dataset.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from trainforge.config import RetrainPolicy, duration_s
from trainforge.data.read import read_table
from trainforge.errors import (
    DataError,
    NoFeedbackToTrainOn,
    OriginalDataGone,
    UnrebuildableColumn,
)
from trainforge.monitoring.deployments import deployments_of
from trainforge.monitoring.feedback import labelled_predictions
from trainforge.monitoring.prediction_log import INPUT_PREFIX, LogPolicy
from trainforge.store.datasets import record_dataset
from trainforge.store.deployments import DeploymentRecord
from trainforge.store.handle import FileStoreHandle
from trainforge.store.tables import datasets
from trainforge.store.uploads import new_upload_dir, record_upload


@dataclass(frozen=True)
class RetrainData:
    """The dataset a retrain reads: its file (an upload), its ids and what it holds."""

    path: Path
    upload_id: str
    dataset_id: int
    target: str
    n_rows: int
    n_labels: int
    lineage: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def build_retrain_data(store: FileStoreHandle, log_root: Path, manifest: Mapping[str, Any],
                       policy: RetrainPolicy, *, now: datetime,
                       submitted_by: str | None) -> RetrainData:
    """Build, write and record the table ``policy.train_on`` names for the model whose
    package manifest is ``manifest`` (the version that serves). Raises a RetrainRefused
    error (UnrebuildableColumn, NoFeedbackToTrainOn, OriginalDataGone) before writing
    anything."""
    name = str(manifest["name"])
    features = [str(spec["name"]) for spec in manifest["signature"]]
    target = str(manifest["task"]["target"])
    deployed = deployments_of(store, name, log_root=log_root)
    if not deployed:
        raise NoFeedbackToTrainOn(name, "it is not deployed, so it has no logged predictions")
    for deployment in deployed:
        check_logged(deployment, features)
    mode, _, value = policy.train_on.partition(":")
    since = now - timedelta(seconds=duration_s(value)) if mode == "window" else None
    labelled = labelled_of(store, log_root, deployed, since=since, until=now)
    if mode == "latest":
        labelled = labelled.tail(int(value))
    if labelled.empty:
        raise NoFeedbackToTrainOn(name, "no logged prediction has a label" + (
            f" in the last {value}" if mode == "window" else ""))
    rows = training_rows(labelled, features, target=target, deployment=deployed[0]["name"])
    notes: list[str] = []
    original = None
    if mode == "original+feedback":
        original = original_data(store, manifest, notes=notes,
                                 feedback_only_if_gone=policy.feedback_only_if_original_gone)
    if original is not None:
        rows[target] = _as_dtype(rows[target], original.frame[target].dtype)
        table = pd.concat([original.frame[[*features, target]], rows], ignore_index=True)
    else:
        table = rows.reset_index(drop=True)
    lineage = _lineage(manifest, policy, deployed, labelled, since=since, until=now,
                       original=original, parent_id=_dataset_id(store, original), notes=notes)
    return _write(store, name=name, table=table, target=target, lineage=lineage,
                  n_labels=len(labelled), notes=notes, now=now, submitted_by=submitted_by)


def training_rows(labelled: pd.DataFrame, features: list[str], *, target: str,
                  deployment: str) -> pd.DataFrame:
    """Labelled predictions as training rows: each ``in.<feature>`` as the feature, the label
    as ``target``. UnrebuildableColumn names a feature the log never held."""
    missing = [f for f in features if INPUT_PREFIX + f not in labelled]
    if missing:  # never logged at all (logged before the column was served, or dropped)
        raise UnrebuildableColumn(missing[0], deployment, "not logged")
    rows = labelled[[INPUT_PREFIX + f for f in features]].rename(
        columns=lambda column: column[len(INPUT_PREFIX):])
    rows[target] = labelled["label"].to_numpy()
    return rows


def check_logged(deployment: DeploymentRecord, features: list[str]) -> None:
    policy = LogPolicy.from_dict(deployment["log_policy"] or {})
    for feature in features:
        if feature in policy.exclude:
            raise UnrebuildableColumn(feature, deployment["name"], "excluded")
        if feature in policy.hashed:
            raise UnrebuildableColumn(feature, deployment["name"], "hashed")


def labelled_of(store: FileStoreHandle, log_root: Path, deployed: list[DeploymentRecord], *,
              since: datetime | None, until: datetime) -> pd.DataFrame:
    frames = [labelled_predictions(store, log_root, d["name"], since=since, until=until)
              .assign(deployment=d["name"]) for d in deployed]
    labelled = pd.concat(frames, ignore_index=True)
    if since is not None and len(labelled):  # the log's files are by day: trim to the window
        labelled = labelled[labelled["time"] >= pd.Timestamp(since)]
    return labelled.sort_values(["time", "request_id", "row"], kind="stable")


def original_data(store: FileStoreHandle, manifest: Mapping[str, Any], *,
                  feedback_only_if_gone: bool, notes: list[str]) -> Any:
    """The original training data, checked against its fingerprint; None (with a note) when
    it is gone and ``feedback_only_if_gone`` allows training on the feedback alone."""
    source, fingerprint = _original_source(store, manifest["lineage"])
    try:
        if source is None:
            raise OriginalDataGone(f"of {manifest['name']}", "is not recorded in its package")
        dataset = read_table(source)
        if dataset.fingerprint != fingerprint:
            raise OriginalDataGone(source, "has changed since the model was trained (its "
                                           "fingerprint differs)")
    except (OriginalDataGone, DataError) as error:
        if not feedback_only_if_gone:
            if isinstance(error, OriginalDataGone):
                raise
            raise OriginalDataGone(str(source), f"cannot be read ({error})") from None
        notes.append(f"trained on the feedback alone: {error}")
        return None
    return dataset


def _original_source(store: FileStoreHandle, lineage: Mapping[str, Any]
                     ) -> tuple[str | None, str | None]:
    """The user's own training data: a model retrained before names a dataset this module
    built, whose lineage names the original (so feedback is never counted twice)."""
    fingerprint = lineage.get("dataset_fingerprint")
    with store.engine.connect() as connection:
        built = connection.execute(sa.select(datasets.c.lineage).where(
            datasets.c.fingerprint == fingerprint)).scalar()
    if isinstance(built, dict) and built.get("kind") == "retrain":
        first = built.get("original") or {}
        return first.get("source"), first.get("fingerprint")
    return lineage.get("dataset_source"), fingerprint


def _as_dtype(labels: pd.Series, dtype: Any) -> pd.Series:
    """Labels (a classifier's are text) in the original target's type, so that ``1`` and
    ``"1"`` stay one class; as they are when they do not convert."""
    try:
        return labels.astype(dtype)
    except (TypeError, ValueError):
        return labels


def _dataset_id(store: FileStoreHandle, original: Any) -> int | None:
    if original is None:
        return None
    with store.engine.connect() as connection:
        found = connection.execute(sa.select(datasets.c.id).where(
            datasets.c.fingerprint == original.fingerprint)).scalar()
    return None if found is None else int(found)


def _lineage(manifest: Mapping[str, Any], policy: RetrainPolicy,
             deployed: list[DeploymentRecord], labelled: pd.DataFrame, *,
             since: datetime | None, until: datetime, original: Any, parent_id: int | None,
             notes: list[str]) -> dict[str, Any]:
    times = labelled["time"]
    return {
        "kind": "retrain", "model": manifest["name"], "model_version": manifest["version"],
        "train_on": policy.train_on, "deployments": [d["name"] for d in deployed],
        "window": {"since": None if since is None else since.isoformat(),
                   "until": until.isoformat()},
        "predictions": {"first_at": times.min().isoformat(), "last_at": times.max().isoformat(),
                        "first_request_id": str(labelled["request_id"].iloc[0]),
                        "last_request_id": str(labelled["request_id"].iloc[-1]),
                        "n_requests": int(labelled["request_id"].nunique())},
        "n_labels": len(labelled),
        "original": None if original is None else {
            "source": original.source, "fingerprint": original.fingerprint,
            "n_rows": original.n_rows},
        "parent_dataset_id": parent_id,
        "notes": notes,
    }


def _write(store: FileStoreHandle, *, name: str, table: pd.DataFrame, target: str,
           lineage: dict[str, Any], n_labels: int, notes: list[str], now: datetime,
           submitted_by: str | None) -> RetrainData:
    upload_id, folder = new_upload_dir(store)
    path = folder / f"retrain-{name}-{now:%Y%m%dT%H%M%S}.parquet"
    table.to_parquet(path, index=False)
    dataset = read_table(path)  # as training will read it: the same fingerprint
    dataset_id = record_dataset(store, dataset, lineage=lineage)
    data = path.read_bytes()
    record_upload(store, upload_id=upload_id, path=path, size_bytes=len(data),
                  sha256=hashlib.sha256(data).hexdigest(), uploaded_by=submitted_by,
                  dataset_id=dataset_id)
    return RetrainData(path=path, upload_id=upload_id, dataset_id=dataset_id, target=target,
                       n_rows=len(table), n_labels=n_labels, lineage=lineage, notes=notes)
