"""Labeling projects, as the CLI (`trainforge label`), the REST routes (``/v1/labeling``) and
the labeling pages use them: one function per thing a person does.

A label is checked against the project's classes before anything is written; an import is
read and checked whole before any of it is written; an export writes a table that
`trainforge train` reads, recorded as a dataset version whose lineage names the project and
the file of who labelled what, when.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from trainforge.data.limits import NO_LIMITS, TableLimits
from trainforge.data.read import read_table
from trainforge.errors import BadImport, ConfigError, LabelingError, NothingLabelled
from trainforge.labeling import label_studio, label_table
from trainforge.labeling.agreement import Agreement, agreement
from trainforge.labeling.classes import check_label, parse_classes
from trainforge.labeling.export import lineage_table, training_table
from trainforge.labeling.imported import MAX_NOTE_CHARS, ImportedLabel
from trainforge.labeling.queue import NextItem, next_item
from trainforge.labeling.review_items import item_of
from trainforge.labeling.sources import read_items
from trainforge.store import labeling as store
from trainforge.store.clock import utc_now
from trainforge.store.datasets import record_dataset
from trainforge.store.labeling import NewProject, ProjectRecord
from trainforge.store.private_files import private_directory
from trainforge.workspace import Workspace

ExportFormat = Literal["dataset", "csv", "label-studio"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("dataset", "csv", "label-studio")
MAX_OVERLAP = 10
MAX_IMPORT_BYTES = 50 << 20  # 50 MB: a few hundred thousand labels
Changed = Callable[[ProjectRecord], None]  # told after labels change (the quick models)


def _nothing(project: ProjectRecord) -> None:
    """No one to tell (the CLI: no quick model runs there)."""


@dataclass(frozen=True)
class Status:
    """A project's progress, labels per person, agreement and the quick model's scores."""

    project: ProjectRecord
    n_items: int
    n_labelled: int  # items with at least one label
    n_done: int  # items with as many labels as the overlap asks, or settled
    per_person: dict[str, dict[str, int]]  # annotator → {"labels": n, "skips": n}
    agreement: Agreement
    n_disagreements: int
    scores: list[tuple[int, float]] = field(default_factory=list)  # (labels, CV score)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.project["name"], "modality": self.project["modality"],
                "classes": self.project["classes"], "overlap": self.project["overlap"],
                "created_by": self.project["created_by"],
                "created_at": self.project["created_at"].isoformat(),
                "items": self.n_items, "labelled": self.n_labelled, "done": self.n_done,
                "per_person": self.per_person,
                "agreement": {"kappa": self.agreement.kappa, "method": self.agreement.method,
                              "items": self.agreement.n_items},
                "disagreements": self.n_disagreements,
                "scores": [{"labels": n, "score": s} for n, s in self.scores]}


def create_project(workspace: Workspace, name: str, data: Path, *, classes: str | Sequence[str],
                   text_column: str | None = None, image_column: str | None = None,
                   overlap: int = 1, created_by: str | None = None,
                   limits: TableLimits = NO_LIMITS) -> ProjectRecord:
    """Make project ``name`` from ``data`` (a table or a folder of images) with ``classes``.

    Everything is checked (classes, overlap, every image) before the project is written.
    """
    names = parse_classes(classes)
    if not 1 <= overlap <= MAX_OVERLAP:
        raise ConfigError(f"--overlap is {overlap}; give 1 (one label per item) to "
                          f"{MAX_OVERLAP}")
    if text_column is not None and image_column is not None:
        raise ConfigError("give --text-column or --image-column, not both")
    found = read_items(Path(data), text_column=text_column, image_column=image_column,
                       limits=limits)
    project = NewProject(name=_check_name(name), classes=names, modality=found.modality,
                         source=str(data), item_column=found.item_column, target=found.target,
                         overlap=overlap, created_by=created_by)
    return store.create_project(workspace, project, found.payloads)


def _check_name(name: str) -> str:
    if not (1 <= len(name) <= 100 and name.replace("-", "").replace("_", "").replace(".", "")
            .isalnum() and name[0].isalnum()):
        raise ConfigError("a project name is 1 to 100 letters, digits, '.', '_' or '-', "
                          "starting with a letter or digit; choose another")
    return name


def list_projects(workspace: Workspace) -> list[ProjectRecord]:
    return store.list_projects(workspace)


def project_status(workspace: Workspace, name: str) -> Status:
    project = store.get_project(workspace, name)
    labels = store.current_labels(workspace, project["id"])
    per_person: dict[str, dict[str, int]] = {}
    counts: Counter[int] = Counter()
    settled = set()
    for record in labels:
        mine = per_person.setdefault(record["annotator"], {"labels": 0, "skips": 0})
        mine["labels" if record["label"] is not None else "skips"] += 1
        if record["label"] is not None:
            counts[record["position"]] += 1
        if record["final"]:
            settled.add(record["position"])
    done = {p for p, n in counts.items() if n >= project["overlap"]} | settled
    kappa = agreement((r["position"], r["annotator"], r["label"]) for r in labels
                      if r["label"] is not None and not r["final"])
    return Status(project=project, n_items=store.count_items(workspace, project["id"]),
                  n_labelled=len(counts), n_done=len(done), per_person=per_person,
                  agreement=kappa,
                  n_disagreements=len(store.disagreements(workspace, project["id"])),
                  scores=store.scores(workspace, project["id"]))


# ---- labelling one item ---------------------------------------------------------------------
def next_for(workspace: Workspace, name: str, *, annotator: str,
             ranked: Sequence[int] | None = None) -> tuple[ProjectRecord, NextItem | None]:
    """The project and the item ``annotator`` should label next (None: nothing left)."""
    project = store.get_project(workspace, name)
    return project, next_item(workspace, project, annotator=annotator, ranked=ranked)


def label_item(workspace: Workspace, name: str, item: int, *, annotator: str,
               label: str | None, note: str | None = None, final: bool = False,
               changed: Changed = _nothing) -> ProjectRecord:
    """Record ``annotator``'s ``label`` for ``item`` (None: skip it); ``final``: a reviewer
    settling a disagreement. The label must be one of the project's classes."""
    project = store.get_project(workspace, name)
    if label is not None:
        check_label(label, project=name, classes=project["classes"])
    note = (note or "").strip()[:MAX_NOTE_CHARS] or None
    store.add_label(workspace, project, item, annotator=annotator, label=label, note=note,
                    final=final)
    changed(project)
    return project


def undo_last(workspace: Workspace, name: str, *, annotator: str,
              changed: Changed = _nothing) -> int | None:
    """Take back ``annotator``'s latest label or skip (kept, marked replaced); the item it
    was for, to show again, or None when there was nothing to undo."""
    project = store.get_project(workspace, name)
    undone = store.undo_last(workspace, project, annotator=annotator)
    if undone is not None:
        changed(project)
    return undone


def disagreements(workspace: Workspace, name: str) -> tuple[ProjectRecord, list[int]]:
    project = store.get_project(workspace, name)
    return project, store.disagreements(workspace, project["id"])


def item_labels(workspace: Workspace, project: ProjectRecord, item: int
                ) -> list[store.LabelRecord]:
    return [r for r in store.current_labels(workspace, project["id"]) if r["position"] == item]


# ---- export and import ----------------------------------------------------------------------
@dataclass(frozen=True)
class Exported:
    format: str
    path: Path
    n_rows: int
    dataset_id: int | None = None  # the dataset version, for the dataset format


def export_labels(workspace: Workspace, name: str, *, out: Path,
                  format: ExportFormat = "dataset", exported_by: str | None = None
                  ) -> Exported:
    """Write ``name``'s labels to ``out``: a table to train on, recorded as a dataset version
    with its lineage (``dataset``), every label as a CSV (``csv``), or Label Studio JSON.

    Raises NothingLabelled when the project has no labels yet.
    """
    if format not in EXPORT_FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(EXPORT_FORMATS)}")
    project = store.get_project(workspace, name)
    labels = store.current_labels(workspace, project["id"])
    if not any(r["label"] is not None for r in labels):
        raise NothingLabelled(name)
    items = dict(store.all_items(workspace, project["id"]))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if format == "csv":
        rows = [{"item": r["position"], **_shown(items[r["position"]]), "label": r["label"],
                 "annotator": r["annotator"], "labelled_at": r["created_at"].isoformat(),
                 "note": r["note"] or ""} for r in labels if r["label"] is not None]
        out.write_bytes(label_table.write_rows(rows))
        return Exported(format, out, len(rows))
    if format == "label-studio":
        by_item: dict[int, list[tuple[str, str, Any]]] = {}
        for r in labels:
            if r["label"] is not None:
                by_item.setdefault(r["position"], []).append(
                    (r["annotator"], r["label"], r["created_at"]))
        out.write_bytes(label_studio.write_tasks(
            [(p, item_of(payload)) for p, payload in sorted(items.items())], by_item))
        return Exported(format, out, len(items))
    return _export_dataset(workspace, project, items, labels, out=out, exported_by=exported_by)


def _shown(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: payload[k] for k in label_table.SHOWN if k in payload}


def _export_dataset(workspace: Workspace, project: ProjectRecord, items: dict[int, Any],
                    labels: Sequence[store.LabelRecord], *, out: Path,
                    exported_by: str | None) -> Exported:
    table = training_table(project, items, labels, folder=out.parent)
    table.to_csv(out, index=False)
    dataset = read_table(out)  # as `trainforge train` reads it: the same fingerprint
    who = lineage_table(labels)
    folder = private_directory(private_directory(workspace.artifacts / "labeling")
                               / project["name"])
    lineage_file = folder / f"labels-{dataset.fingerprint[:16]}.csv"
    raw = who.to_csv(index=False).encode()
    lineage_file.write_bytes(raw)
    lineage = {"kind": "labeling", "project": project["name"], "target": project["target"],
               "exported_by": exported_by, "exported_at": utc_now().isoformat(),
               "items": len(table),
               "annotators": dict(Counter(who["annotator"].tolist())),
               "labels_file": str(lineage_file.relative_to(workspace.artifacts)),
               "labels_sha256": hashlib.sha256(raw).hexdigest()}
    dataset_id = record_dataset(workspace, dataset, lineage=lineage)
    return Exported("dataset", out, len(table), dataset_id)


def import_labels(workspace: Workspace, name: str, raw: bytes, *, source: str,
                  imported_by: str, changed: Changed = _nothing) -> int:
    """Record the labels of a Label Studio JSON (``source`` ends in .json) or CSV file; all
    are checked (fields, items, classes) before any is written. Returns how many."""
    if len(raw) > MAX_IMPORT_BYTES:
        raise BadImport(source, f"is over {MAX_IMPORT_BYTES >> 20} MB",
                        "split it into smaller files")
    project = store.get_project(workspace, name)
    found = _read_import(workspace, project, raw, source=source)
    n_items = store.count_items(workspace, project["id"])
    for number, label in enumerate(found, start=1):
        where = f"{source}, label {number:,}"
        check_label(label.label, project=name, classes=project["classes"], where=where)
        if not 0 <= label.position < n_items:
            raise BadImport(where, f"names item {label.position}, which the project lacks "
                            f"(it has items 0 to {n_items - 1})", "check the item numbers")
    written = store.add_labels(workspace, project, [
        (label.position, label.annotator or imported_by, label.label, label.note)
        for label in found])
    if written:
        changed(project)
    return written


def _read_import(workspace: Workspace, project: ProjectRecord, raw: bytes, *,
                 source: str) -> list[ImportedLabel]:
    if source.lower().endswith(".json"):
        position_of = {str(next(iter(p.values()))): position
                       for position, p in store.all_items(workspace, project["id"])
                       if len(p) == 1}
        return label_studio.read_tasks(raw, source=source, position_of=position_of)
    if source.lower().endswith(".csv"):
        return label_table.read_rows(raw, source=source)
    raise LabelingError(f"{source}: import reads Label Studio JSON (.json) or CSV (.csv); "
                        "give a file ending in one of those")
