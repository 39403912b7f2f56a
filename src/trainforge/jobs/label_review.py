"""``trainforge train --label-issues review``: the rows a run flagged go to a labeling project
named after the model, ``<model>-label-issues``, for annotators to relabel.

Each item shows the row as the model saw it (its text, image or columns) with the label it
was given and the likely one, as a pre-annotation with its probability (``labeling.
review_items``). The project's classes are the task's and its export's target is the task's
target, so `trainforge label export` gives a table `trainforge train` takes; the project's
source names the run, and the model's manifest names the project.

When the project exists already (an earlier run of the same model), the rows it does not
hold yet are added to it; when its classes are not the task's, nothing is sent and the run
says why (it never fails a trained model over it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from trainforge.data.dataset import ColumnKind, Schema
from trainforge.data.task import Task
from trainforge.errors import BadClasses, LabelingProjectNotFound
from trainforge.evaluation.label_issues import LabelIssues
from trainforge.json_value import JSONValue
from trainforge.labeling.classes import parse_classes
from trainforge.labeling.review_items import item_of, review_payload
from trainforge.store import labeling as store
from trainforge.store.json_values import to_json_value
from trainforge.store.labeling import NewProject
from trainforge.workspace import Workspace

PROJECT_SUFFIX = "-label-issues"
MAX_NAME_CHARS = 100  # a project name's limit (jobs.labeling)


@dataclass(frozen=True)
class Sent:
    """Where the flagged rows went: the project, how many were added, and how many it held
    already; or, with ``note``, why none were sent."""

    project: str
    n_added: int = 0
    n_already: int = 0
    created: bool = False
    note: str = ""


def project_name(model: str) -> str:
    """``<model>-label-issues``: the model's name, in the letters a project name allows (other
    characters become '-') and cut so that the whole fits one."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", model).lstrip("-_.") or "model"
    return stem[:MAX_NAME_CHARS - len(PROJECT_SUFFIX)] + PROJECT_SUFFIX


def _shape(schema: Schema, features: Sequence[str]) -> tuple[str, str | None]:
    """The project's modality and item column: a lone text or image feature is shown as
    such, anything else as the row's columns."""
    if len(features) == 1 and schema.get(features[0]) == ColumnKind.TEXT:
        return "text", features[0]
    if len(features) == 1 and schema.get(features[0]) == ColumnKind.IMAGE:
        return "image", features[0]
    return "table", None


def _items(flagged: pd.DataFrame, issues: LabelIssues, *, modality: str, column: str | None,
           target: str, run_id: str) -> list[dict[str, JSONValue]]:
    payloads = []
    for issue in issues.issues:
        row = flagged.loc[issue.row]
        item: dict[str, JSONValue]
        if modality == "text":
            item = {"text": "" if pd.isna(row[column]) else str(row[column])}
        elif modality == "image":
            item = {"path": str(row[column])}
        else:
            item = to_json_value(row.drop(labels=[target]).to_dict(), where=f"row {issue.row}")
        payloads.append(review_payload(item, given=issue.given, likely=issue.likely,
                                       likely_probability=issue.likely_probability,
                                       row=issue.row, run_id=run_id))
    return payloads


def send_for_review(workspace: Workspace, flagged: pd.DataFrame, issues: LabelIssues, *,
                    model: str, run_id: str, task: Task, schema: Schema,
                    features: Sequence[str]) -> Sent:
    """Put ``issues``' rows of ``flagged`` (the labelled rows, indexed by row number) in the
    labeling project of ``model``, made now or added to."""
    name = project_name(model)
    try:
        classes = parse_classes(list(task.classes))
    except BadClasses as error:
        return Sent(name, note=f"not sent to a labeling project: the task's classes {error}")
    modality, column = _shape(schema, features)
    payloads = _items(flagged, issues, modality=modality, column=column, target=task.target,
                      run_id=run_id)
    try:
        project = store.get_project(workspace, name)
    except LabelingProjectNotFound:
        store.create_project(workspace, NewProject(
            name=name, classes=classes, modality=modality,
            source=f"run {run_id}: the rows of model {model}'s training data whose label "
                   "looks wrong", item_column=column, target=task.target, overlap=1,
            created_by=f"run {run_id}"), payloads)
        return Sent(name, n_added=len(payloads), created=True)
    if sorted(project["classes"]) != sorted(classes) or project["modality"] != modality:
        return Sent(name, note=f"not sent: labeling project {name} exists with other classes "
                               f"or items ({', '.join(project['classes'])}; "
                               f"{project['modality']}); rename the model with --name")
    held = {_key(p) for _, p in store.all_items(workspace, project["id"])}
    new = [p for p in payloads if _key(p) not in held]
    if new:
        store.add_items(workspace, project, new)
    return Sent(name, n_added=len(new), n_already=len(payloads) - len(new))


def _key(payload: dict[str, JSONValue] | dict[str, object]) -> str:
    """An item's identity: what the annotator sees, whatever run flagged it."""
    return json.dumps(item_of(payload), sort_keys=True, default=str)
