"""Label Studio's JSON export format, in and out: a list of tasks, each with its ``data`` (the
text or image shown) and ``annotations``, whose ``result`` holds the chosen class as
``{"type": "choices", "value": {"choices": [CLASS]}}``.

What is read is refused whole on any field Label Studio does not write (named in the error),
so a file from another tool, or a mistyped one, never half-imports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

from trainforge.errors import BadImport, UnknownImportFields
from trainforge.labeling.imported import ImportedLabel, annotator_name

TASK_FIELDS = frozenset({
    "id", "data", "annotations", "predictions", "meta", "created_at", "updated_at",
    "inner_id", "total_annotations", "cancelled_annotations", "total_predictions",
    "comment_count", "unresolved_comment_count", "last_comment_updated_at", "project",
    "updated_by", "file_upload", "comment_authors", "drafts", "annotators"})
ANNOTATION_FIELDS = frozenset({
    "id", "completed_by", "result", "was_cancelled", "ground_truth", "created_at",
    "updated_at", "draft_created_at", "lead_time", "prediction", "result_count", "unique_id",
    "import_id", "last_action", "task", "project", "updated_by", "parent_prediction",
    "parent_annotation", "last_created_by", "bulk_created"})
RESULT_FIELDS = frozenset({"id", "type", "value", "origin", "to_name", "from_name",
                           "image_rotation", "original_width", "original_height"})
FROM_NAME = "label"  # the choices control of the labeling config trainforge writes


def write_tasks(items: Sequence[tuple[int, Mapping[str, Any]]],
                labels: Mapping[int, Sequence[tuple[str, str, datetime]]]) -> bytes:
    """Tasks for ``items`` (position, payload) with each item's ``(annotator, class, when)``
    labels as annotations; ``data.item`` keeps the position for the way back."""
    tasks = []
    for position, payload in items:
        shown = "image" if "path" in payload and len(payload) == 1 else "text"
        data: dict[str, Any] = {"item": position, **({"image": payload["path"]}
                                                     if shown == "image" else
                                                     {"text": payload.get("text", payload)})}
        tasks.append({"id": position + 1, "data": data, "annotations": [
            {"completed_by": annotator, "created_at": when.isoformat(),
             "result": [{"type": "choices", "from_name": FROM_NAME, "to_name": shown,
                         "value": {"choices": [label]}}]}
            for annotator, label, when in labels.get(position, ())]})
    return orjson.dumps(tasks, option=orjson.OPT_INDENT_2)


def read_tasks(raw: bytes, *, source: str,
               position_of: Mapping[str, int]) -> list[ImportedLabel]:
    """The labels in Label Studio JSON ``raw``. A task names its item by ``data.item`` (as
    trainforge writes it) or by its text or image path (``position_of``).

    Raises UnknownImportFields naming fields Label Studio does not write, BadImport for a
    malformed file or a task that matches no item.
    """
    try:
        tasks = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BadImport(source, f"is not JSON ({error.msg} at character {error.pos})",
                        "export the project from Label Studio as JSON") from None
    if not isinstance(tasks, list):
        raise BadImport(source, "is not a list of tasks", "export it from Label Studio as JSON")
    found: list[ImportedLabel] = []
    for number, task in enumerate(tasks, start=1):
        where = f"{source}, task {number:,}"
        _check_fields(task, TASK_FIELDS, where)
        position = _position(task.get("data"), where, position_of)
        for annotation in task.get("annotations") or []:
            _check_fields(annotation, ANNOTATION_FIELDS, f"{where}, an annotation")
            if annotation.get("was_cancelled"):
                continue
            label = _choice(annotation.get("result") or [], where)
            if label is not None:
                found.append(ImportedLabel(position, _who(annotation.get("completed_by")),
                                           label))
    return found


def _check_fields(value: Any, known: frozenset[str], where: str) -> None:
    if not isinstance(value, dict):
        raise BadImport(where, "is not a JSON object", "export it from Label Studio as JSON")
    unknown = set(value) - known
    if unknown:
        raise UnknownImportFields(where, sorted(unknown), sorted(known))


def _position(data: Any, where: str, position_of: Mapping[str, int]) -> int:
    if not isinstance(data, dict):
        raise BadImport(where, "has no data object", "export it from Label Studio as JSON")
    item = data.get("item")
    if isinstance(item, int) and not isinstance(item, bool):
        return item
    for key in ("text", "image"):
        value = data.get(key)
        if isinstance(value, str) and value in position_of:
            return position_of[value]
    raise BadImport(where, "matches no item of the project",
                    "import the project's own export, or tasks whose data.text or data.image "
                    "is an item's text or image path")


def _choice(results: Any, where: str) -> str | None:
    if not isinstance(results, list):
        raise BadImport(where, "has a result that is not a list", "export it again")
    for result in results:
        _check_fields(result, RESULT_FIELDS, f"{where}, a result")
        value = result.get("value")
        choices = (value.get("choices") if isinstance(value, dict)
                   and result.get("type") == "choices" else None)
        if isinstance(choices, list) and len(choices) == 1 and isinstance(choices[0], str):
            return choices[0]
    return None


def _who(completed_by: Any) -> str | None:
    if isinstance(completed_by, dict):
        completed_by = completed_by.get("email") or completed_by.get("id")
    if isinstance(completed_by, int) and not isinstance(completed_by, bool):
        return f"label-studio:{completed_by}"
    return annotator_name(completed_by) if isinstance(completed_by, str) else None
