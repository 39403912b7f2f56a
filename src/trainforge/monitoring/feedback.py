"""Feedback: the true outcomes of logged predictions, recorded against what answered them.

``record_feedback`` is the one function the REST route, the CLI, the SDK and the web form
call. Each label names a logged prediction (``request_id`` and ``row``) and gets one outcome:

- ``recorded``: written;
- ``unchanged``: that label was already recorded (a duplicate); nothing written;
- ``conflict``: a different label is recorded; nothing written (``replace=True`` writes it
  and marks the old one replaced: ``replaced``; the old label is kept, never overwritten);
- ``unknown_request``: no such prediction in the log (a wrong id, a deployment that logs
  nothing or a sample, or a prediction older than the log's retention);
- ``ambiguous``: matched by an input value that several logged rows share (``feedback_doors``);
- ``wrong_type``: not one of the model's classes, or not a finite number for a regressor.

**Late is a flag, not an outcome**: a label for a prediction answered by a version no longer
deployed under that name is still recorded (it counts for that version's monitoring, and the
row keeps the version that answered, so a retrain knows), and the answer counts it as ``late``
and flags its position. A classifier's label is compared and kept as the model writes its
classes: text (``1``, ``1.0`` and ``"1"`` are all class ``"1"``).

A batch is checked whole before anything is written, and written in one transaction: a
malformed record (no request id, no label, a row below 0) refuses the batch with its position.
The answer never repeats the submitted values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from trainforge.data.task_kind import TaskKind
from trainforge.errors import FeedbackNotSupported, InvalidFeedback, TooManyLabels
from trainforge.json_value import JSONValue
from trainforge.monitoring.logged_requests import find_requests, value_key
from trainforge.monitoring.prediction_log import LogPolicy, read_predictions
from trainforge.store import feedback as labels_store
from trainforge.store.clock import utc_now
from trainforge.store.deployments import DeploymentRecord
from trainforge.store.handle import StoreHandle

MAX_LABELS = 10_000  # labels per call: a batch is checked and written in one transaction
MAX_REQUEST_ID_CHARS = 64  # the feedback table's column
MAX_LABEL_CHARS = 1_000
Outcome = Literal["recorded", "replaced", "unchanged", "conflict", "unknown_request",
                  "ambiguous", "wrong_type"]
OUTCOMES: tuple[Outcome, ...] = ("recorded", "replaced", "unchanged", "conflict",
                                 "unknown_request", "ambiguous", "wrong_type")


@dataclass(frozen=True)
class LabelSpec:
    """What a label must be: one of ``classes`` (text) for a classifier, a number for a
    regressor. ``of_task`` reads it from a model's manifest task."""

    kind: TaskKind
    classes: tuple[str, ...] = ()

    @classmethod
    def of_task(cls, task: Mapping[str, Any]) -> LabelSpec:
        return cls(TaskKind(task["kind"]), tuple(str(c) for c in task.get("classes", ())))

    def check(self, value: JSONValue) -> JSONValue | None:
        """The label as it is stored (a class as text, a number as float); None when it is
        of the wrong type for the model."""
        if self.kind is TaskKind.REGRESSION:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return None
            return float(value) if math.isfinite(value) else None
        text = value_key(value)
        return text if text in self.classes else None


@dataclass(frozen=True)
class Unmatched:
    """A record matched to no single logged prediction before ``record_feedback`` was
    called (``feedback_doors`` matching by an input column): its outcome is decided."""

    outcome: Outcome


@dataclass(frozen=True)
class RecordOutcome:
    """A record that was not plainly recorded: its position in the batch (from 0), its
    outcome, and whether it is ``late``."""

    position: int
    outcome: Outcome
    late: bool = False


@dataclass
class FeedbackOutcome:
    """What became of a batch: a count per outcome, the number of late labels, each record
    not plainly recorded, and hints for the outcomes that need one."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    late: int = 0
    records: list[RecordOutcome] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)

    def add(self, position: int, outcome: Outcome, *, late: bool = False) -> None:
        self.counts[outcome] += 1
        self.late += late
        if outcome != "recorded" or late:
            self.records.append(RecordOutcome(position, outcome, late))

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "late": self.late, "hints": self.hints,
                "records": [{"position": r.position, "outcome": r.outcome, "late": r.late}
                            for r in self.records]}


@dataclass(frozen=True)
class _Label:
    request_id: str
    row: int
    label: JSONValue


def check_batch_size(n_labels: int) -> None:
    """Refuse a batch over ``MAX_LABELS`` before reading any of it."""
    if n_labels > MAX_LABELS:
        raise TooManyLabels(MAX_LABELS, n_labels)


def _parsed(position: int, record: Mapping[str, Any] | Unmatched) -> _Label | Unmatched:
    if isinstance(record, Unmatched):
        return record
    if not isinstance(record, Mapping):
        raise InvalidFeedback(position, "it is not an object of request_id, row and label")
    request_id, row, label = (record.get("request_id"), record.get("row", 0),
                              record.get("label"))
    if not isinstance(request_id, str) or not 0 < len(request_id) <= MAX_REQUEST_ID_CHARS:
        raise InvalidFeedback(position, "request_id is missing or is not a text of 1 to "
                                        f"{MAX_REQUEST_ID_CHARS} characters")
    if isinstance(row, bool) or not isinstance(row, int) or row < 0:
        raise InvalidFeedback(position, "row must be a whole number, 0 or more")
    if label is None or isinstance(label, float) and math.isnan(label):
        raise InvalidFeedback(position, "label is missing")
    if not isinstance(label, (str, int, float, bool)) or (
            isinstance(label, str) and len(label) > MAX_LABEL_CHARS):
        raise InvalidFeedback(position, "label must be a text (at most "
                                        f"{MAX_LABEL_CHARS} characters), number or true/false")
    return _Label(request_id, row, label)


def record_feedback(store: StoreHandle, log_root: Path, *, deployment: DeploymentRecord,
                    labels: Sequence[Mapping[str, Any] | Unmatched], spec: LabelSpec,
                    submitted_by: str | None, replace: bool = False) -> FeedbackOutcome:
    """Record ``labels`` (``{"request_id": str, "row": int = 0, "label": ...}`` each) for
    the predictions ``deployment`` logged under ``log_root``; ``spec``: what a label of its
    model must be. Returns the outcome of each record (see the module's docstring).

    Raises TooManyLabels past ``MAX_LABELS``, InvalidFeedback for a malformed record and
    FeedbackNotSupported for a model that predicts no label; nothing is written then.
    """
    check_batch_size(len(labels))
    if not spec.kind.is_supervised:
        raise FeedbackNotSupported(deployment["name"], spec.kind.value)
    parsed = [_parsed(position, record) for position, record in enumerate(labels)]
    wanted = [p for p in parsed if isinstance(p, _Label)]
    logged = find_requests(log_root, deployment["name"], {p.request_id for p in wanted})
    answered = {(r.request_id, int(r.row)): (r.time.to_pydatetime(), r.model, int(r.version))
                for r in logged.itertuples(index=False)}
    outcome = FeedbackOutcome()
    now = utc_now()
    with store.engine.begin() as connection:  # read the current labels and write in one
        current: dict[tuple[str, int], Any] = dict(labels_store.current_labels(
            connection, deployment["name"], [(p.request_id, p.row) for p in wanted]))
        pending: list[labels_store.NewLabel] = []
        replaced: list[int] = []
        for position, item in enumerate(parsed):
            if isinstance(item, Unmatched):
                outcome.add(position, item.outcome)
                continue
            key = (item.request_id, item.row)
            stored = spec.check(item.label)
            was = current.get(key)
            if key not in answered:
                outcome.add(position, "unknown_request")
            elif stored is None:
                outcome.add(position, "wrong_type")
            elif was is not None and was["label"] == stored:
                outcome.add(position, "unchanged")
            elif was is not None and not replace:
                outcome.add(position, "conflict")
            else:
                if was is not None and "id" in was:  # replaced: the old label stays, marked
                    replaced.append(was["id"])
                elif was is not None:  # written earlier in this batch
                    was["replaced_at"] = now
                predicted_at, model, version = answered[key]
                current[key] = labels_store.NewLabel(
                    deployment=deployment["name"], request_id=item.request_id, row=item.row,
                    label=stored, model_name=model, model_version=version,
                    predicted_at=predicted_at, received_at=now, submitted_by=submitted_by,
                    replaced_at=None)
                pending.append(current[key])  # a later record of the batch sees it
                late = (model, version) != (deployment["model_name"],
                                            deployment["model_version"])
                outcome.add(position, "recorded" if was is None else "replaced", late=late)
        labels_store.write_labels(connection, pending, replaced=replaced, replaced_at=now)
    outcome.hints = _hints(outcome, deployment)
    return outcome


def _hints(outcome: FeedbackOutcome, deployment: DeploymentRecord) -> list[str]:
    """What to do about the outcomes that need more than their name (fixed texts: the
    submitted values are never repeated)."""
    counts, hints = outcome.counts, []
    if counts["unknown_request"]:
        policy = LogPolicy.from_dict(deployment["log_policy"] or {})
        hints.append(
            "unknown_request: labels can only be matched to logged predictions. "
            + (f"Deployment {deployment['name']!r} logs no predictions (log policy none)."
               if policy.mode == "none" else
               f"Deployment {deployment['name']!r} logs a sample ({policy.rate:g}) of its "
               "requests; the others cannot take feedback." if policy.mode == "sample" else
               "Check the ids (each answer's request_id, or its X-Request-Id header) and "
               "rows; predictions older than the log's retention are removed."))
    if counts["ambiguous"]:
        hints.append("ambiguous: several logged predictions have that id column value; "
                     "send those labels by request_id")
    if counts["wrong_type"]:
        hints.append("wrong_type: a classifier takes one of its classes, a regressor a "
                     "finite number")
    if counts["conflict"]:
        hints.append("conflict: another label is recorded for that prediction; send again "
                     "with replace to replace it (the old label is kept as replaced)")
    if outcome.late:
        hints.append("late: recorded for the version that answered, which is no longer the "
                     "one deployed")
    return hints


def labelled_predictions(store: StoreHandle, log_root: Path, deployment: str, *,
                         since: datetime | None = None,
                         until: datetime | None = None) -> pd.DataFrame:
    """The logged predictions of ``deployment`` (from ``since`` up to ``until``, UTC) that
    have a current label, with that label in a ``label`` column: what monitoring and
    retraining read. Every column of ``read_predictions``, oldest first."""
    logged = read_predictions(log_root, deployment, since=since, until=until)
    current = labels_store.list_labels(store, deployment)
    labels = pd.DataFrame({"request_id": [r["request_id"] for r in current],
                           "row": [r["row"] for r in current],
                           "label": [r["label"] for r in current]})
    if logged.empty or labels.empty:
        return logged.iloc[0:0].assign(label=pd.Series(dtype=object))
    logged["row"] = logged["row"].astype("int64")
    labels["row"] = labels["row"].astype("int64")
    return logged.merge(labels, on=["request_id", "row"], how="inner", validate="one_to_one")
