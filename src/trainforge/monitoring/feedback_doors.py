"""Feedback as the doors take it: a deployment by name, records from a file, a DataFrame or
a request body, matched by request id or by the user's own id column.

``submit_feedback`` is what the REST route, the CLI, the SDK and the web form call. The id
column holds request ids, unless it names an input the deployment logs (``in.<column>`` in
its log): then each record matches the logged row whose input has that value, and a value
that several logged rows share is refused for that record as ``ambiguous``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from trainforge.errors import DeploymentNotFound, HashedIdColumn, InvalidFeedback
from trainforge.monitoring.deployments import served_without_record
from trainforge.monitoring.feedback import (
    FeedbackOutcome,
    LabelSpec,
    Unmatched,
    check_batch_size,
    record_feedback,
)
from trainforge.monitoring.logged_requests import find_by_input, logged_inputs, value_key
from trainforge.monitoring.prediction_log import LogPolicy
from trainforge.registry.registry import Registry
from trainforge.store.deployments import DeploymentRecord, list_deployments
from trainforge.store.handle import FileStoreHandle

REQUEST_ID = "request_id"


def deployment_and_spec(ws: FileStoreHandle, name: str, *,
                        log_root: Path | None = None) -> tuple[DeploymentRecord, LabelSpec]:
    """Deployment ``name``'s record and what a label of the model it serves must be.

    ``trainforge serve`` keeps no deployment record: it logs under the model's name. A name
    with no record but with predictions under ``log_root`` stands for the version that
    answered last there."""
    found = {row["name"]: row for row in list_deployments(ws)}
    row = found.get(name) or (served_without_record(log_root, name) if log_root else None)
    if row is None:
        raise DeploymentNotFound(name, sorted(found))
    manifest = Registry(ws).show(f"{row['model_name']}:{row['model_version']}")
    return row, LabelSpec.of_task(manifest["task"])


def _plain(value: Any) -> Any:
    """A cell as JSON would hold it: numpy scalars as Python, NaN and NA as None."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    return None if value is pd.NA or isinstance(value, float) and math.isnan(value) else value


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as records of plain values."""
    return [{str(k): _plain(v) for k, v in record.items()}
            for record in frame.to_dict(orient="records")]


def match_records(records: Sequence[Mapping[str, Any]], *, log_root: Path,
                  deployment: DeploymentRecord, id_column: str = REQUEST_ID,
                  label_column: str = "label") -> list[Mapping[str, Any] | Unmatched]:
    """``records`` as ``record_feedback`` takes them: ``{"request_id", "row", "label"}``, or
    the outcome of a record matched to no single logged prediction."""
    check_batch_size(len(records))
    for position, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise InvalidFeedback(position, "it is not an object of id and label")
    name = deployment["name"]
    if id_column != REQUEST_ID and id_column in logged_inputs(log_root, name):
        if id_column in LogPolicy.from_dict(deployment["log_policy"] or {}).hashed:
            raise HashedIdColumn(id_column, name)
        return _by_input(records, log_root=log_root, name=name, id_column=id_column,
                         label_column=label_column)
    return [{"request_id": _plain(r.get(id_column)), "row": _plain(r.get("row")) or 0,
             "label": _plain(r.get(label_column))} for r in records]


def _by_input(records: Sequence[Mapping[str, Any]], *, log_root: Path, name: str,
              id_column: str, label_column: str) -> list[Mapping[str, Any] | Unmatched]:
    keys = [value_key(_plain(r.get(id_column))) for r in records]
    for position, key in enumerate(keys):
        if key is None:
            raise InvalidFeedback(position, f"{id_column} (the id column) is missing")
    found = find_by_input(log_root, name, id_column, keys)
    by_key = {key: group for key, group in found.groupby("key")} if len(found) else {}
    matched: list[Mapping[str, Any] | Unmatched] = []
    for key, record in zip(keys, records, strict=True):
        rows = by_key.get(key)
        if rows is None:
            matched.append(Unmatched("unknown_request"))
        elif len(rows) > 1:
            matched.append(Unmatched("ambiguous"))
        else:
            matched.append({"request_id": rows["request_id"].iloc[0],
                            "row": int(rows["row"].iloc[0]),
                            "label": _plain(record.get(label_column))})
    return matched


def submit_feedback(ws: FileStoreHandle, log_root: Path, *, deployment: str,
                    records: Sequence[Mapping[str, Any]], id_column: str = REQUEST_ID,
                    label_column: str = "label", submitted_by: str | None,
                    replace: bool = False) -> FeedbackOutcome:
    """Record the labels in ``records`` for deployment ``deployment``'s logged predictions
    (``log_root``: where the workspace logs them); see ``record_feedback``."""
    check_batch_size(len(records))
    row, spec = deployment_and_spec(ws, deployment, log_root=log_root)
    labels = match_records(records, log_root=log_root, deployment=row, id_column=id_column,
                           label_column=label_column)
    return record_feedback(ws, log_root, deployment=row, labels=labels, spec=spec,
                           submitted_by=submitted_by, replace=replace)
