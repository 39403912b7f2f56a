"""Label issues in a training run (``--label-issues``): the training rows whose label the
search's out-of-fold predictions say is likely wrong (``evaluation.label_issues``).

- ``keep`` (the default): they are listed in the report, in the package's
  ``label-issues.json`` and (how many, how found) in the manifest; the model learns from
  every row.
- ``drop``: they are removed from the training rows, and the chosen blend is fitted again
  without them; that model is the one evaluated on the test split, and the one refitted on
  every kept row. The test split is never checked nor touched: it is scored as given.
- ``review``: as ``keep``, and the flagged rows are sent to the labeling project
  ``<model>-label-issues`` (``jobs.label_review``), each shown with its given and likely
  label, and written to ``label-issues.csv`` with an empty ``corrected_label`` column.

Whatever the action, the run's profile (the package's ``profile.json``, and the dataset's
recorded profile the web UI shows) gets a ``label_issues`` section: how many, how found, and
the likeliest rows.

Only classification has labels to be wrong: ``drop`` and ``review`` are refused for any other
task before anything is trained.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from trainforge.algorithms.model import TabularModel
from trainforge.data.dataset import Schema
from trainforge.data.task import Task
from trainforge.errors import LabelIssuesNotApplicable
from trainforge.evaluation.evaluate import evaluate
from trainforge.evaluation.label_issues import LabelIssues, find_label_issues, review_table
from trainforge.jobs.label_review import Sent, send_for_review
from trainforge.json_value import JSONValue
from trainforge.labeling.spreadsheet_safe import safe_cells
from trainforge.store.datasets import add_to_profile
from trainforge.store.runs import get_run
from trainforge.training.automl import SearchResult
from trainforge.training.refit import refit_on_all
from trainforge.workspace import Workspace

ISSUES_FILE = "label-issues.json"  # every flagged row, in every package that checked labels
REVIEW_FILE = "label-issues.csv"  # --label-issues review: the rows to correct
TOP_IN_REPORT = 20  # the report lists the likeliest; the files hold them all
TOP_IN_PROFILE = 20  # as many in the profile: the rest are in the package's files
TRAIN_SCORE_ROWS = 5_000  # the refitted model's training score reads a sample (a diagnosis)


def check_applicable(action: str, task: Task) -> None:
    """Refuse ``drop`` or ``review`` for a task without classes (regression, clustering…)."""
    if action != "keep" and not task.kind.is_classification:
        raise LabelIssuesNotApplicable(action, task.kind.value)


def find_in_search(result: SearchResult, train_frame: pd.DataFrame,
                   task: Task) -> LabelIssues | None:
    """The label issues among the rows the search validated (all of them under
    cross-validation, the holdout's on large tables); None for a task without classes."""
    if (not task.kind.is_classification or result.validation_predictions is None
            or result.validation_rows is None):
        return None
    given = train_frame[task.target].iloc[result.validation_rows]
    return find_label_issues(given, result.validation_predictions, classes=task.classes)


def without_issues(frame: pd.DataFrame, issues: LabelIssues) -> pd.DataFrame:
    """``frame`` less the flagged rows (rows are known by their number, the frame's index)."""
    return frame.loc[~frame.index.isin(issues.rows)]


@dataclass
class Refitted:
    """The searched blend fitted again on the training rows less the flagged ones."""

    model: TabularModel
    train_frame: pd.DataFrame  # the rows it learned from
    train_score: float  # on (a sample of) them, for the diagnosis


def refit_without(result: SearchResult, train_frame: pd.DataFrame, issues: LabelIssues, *,
                  task: Task, schema: Schema, features: Sequence[str], seed: int,
                  deadline: float | None) -> Refitted | None:
    """``result``'s blend (same algorithms, settings, weights) fitted on ``train_frame`` less
    the flagged rows; None when it would not finish by ``deadline`` or the search kept no
    recipe (see ``refit_on_all``)."""
    kept = without_issues(train_frame, issues)
    model = refit_on_all(result, kept, task=task, schema=schema, features=features,
                         deadline=deadline, seed=seed)
    if model is None:
        return None
    sample = kept if len(kept) <= TRAIN_SCORE_ROWS else kept.sample(TRAIN_SCORE_ROWS,
                                                                    random_state=seed)
    score = evaluate(model, sample).metrics.get(task.metric, math.nan)
    return Refitted(model=model, train_frame=kept, train_score=score)


@dataclass
class RunLabelIssues:
    """What a run found and did: the flagged rows, the action, and what the action did."""

    issues: LabelIssues
    action: str  # keep, drop or review
    n_dropped: int = 0
    note: str = ""  # why an action could not be done
    review_rows: pd.DataFrame | None = None  # review: the flagged rows as the model saw them
    flagged: pd.DataFrame | None = None  # review: the flagged rows as labelled, by row number
    sent: Sent | None = None  # review: the labeling project they went to

    @classmethod
    def of(cls, issues: LabelIssues, *, action: str, frame: pd.DataFrame) -> RunLabelIssues:
        """``frame``: the labelled rows (indexed by row number) the review file copies."""
        if action != "review":
            return cls(issues=issues, action=action)
        return cls(issues=issues, action=action, review_rows=review_table(frame, issues),
                   flagged=frame.loc[issues.rows])

    @property
    def files(self) -> list[str]:
        return [ISSUES_FILE] + ([REVIEW_FILE] if self.review_rows is not None else [])

    def lineage(self) -> dict[str, JSONValue]:
        """What the manifest records: how many rows were checked and flagged, how, what was
        done with them, and for review the labeling project they went to."""
        entry: dict[str, JSONValue] = {**self.issues.summary(), "action": self.action,
                                       "n_dropped": self.n_dropped,
                                       "files": list[JSONValue](self.files)}
        if self.sent is not None and not self.sent.note:
            entry["review_project"] = self.sent.project
            entry["n_sent"] = self.sent.n_added
        note = " ".join(n for n in (self.note, self.sent.note if self.sent else "") if n)
        if note:
            entry["note"] = note
        return entry

    def for_report(self, task: Task) -> dict[str, Any]:
        """The report's section: the summary, the likeliest issues, and for review the
        labeling project holding them."""
        return {**self.lineage(), "top": [asdict(i) for i in self.issues.issues[:TOP_IN_REPORT]],
                "classes": ",".join(task.classes)}

    def for_profile(self, run_id: str) -> dict[str, JSONValue]:
        """The profile's ``label_issues`` section: how many, how found, what was done, and
        the likeliest rows with the label given, the likely one and the probability of each
        (``confidence``: of the likely label; out-of-fold)."""
        top: list[JSONValue] = [
            {"row": i.row, "given": i.given, "likely": i.likely,
             "confidence": i.likely_probability, "given_probability": i.given_probability}
            for i in self.issues.issues[:TOP_IN_PROFILE]]
        section: dict[str, JSONValue] = {
            "count": len(self.issues.issues), "n_checked": self.issues.n_checked,
            "method": self.issues.method, "action": self.action, "run_id": run_id, "top": top}
        if self.sent is not None and not self.sent.note:
            section["review_project"] = self.sent.project
        return section

    def follow_up(self, workspace: Workspace, *, model: str, run_id: str, task: Task,
                  schema: Schema, features: Sequence[str]) -> None:
        """Once the model's name is known: for review, send the flagged rows to its labeling
        project; then record the profile's section on the run's dataset."""
        if self.flagged is not None and self.issues.issues:
            self.sent = send_for_review(workspace, self.flagged, self.issues, model=model,
                                        run_id=run_id, task=task, schema=schema,
                                        features=features)
        dataset_id = get_run(workspace, run_id)["dataset_id"]
        if dataset_id is not None:
            add_to_profile(workspace, dataset_id, "label_issues", self.for_profile(run_id))

    def write_files(self, directory: Path) -> dict[str, Path]:
        """Write ``label-issues.json`` (and for review ``label-issues.csv``, its cells made
        safe to open in a spreadsheet) into ``directory``; returns them by their name in the
        package."""
        written = {ISSUES_FILE: directory / ISSUES_FILE}
        written[ISSUES_FILE].write_text(json.dumps(self.issues.to_dict(), allow_nan=False),
                                        encoding="utf-8")
        if self.review_rows is not None:
            written[REVIEW_FILE] = directory / REVIEW_FILE
            safe_cells(self.review_rows).to_csv(written[REVIEW_FILE], index=False)
        return written


@dataclass
class Checked:
    """After the labels are checked: what was found, and the rows training goes on with."""

    found: RunLabelIssues | None
    train_frame: pd.DataFrame
    frame: pd.DataFrame  # every labelled row the final model is refitted on


def check_labels(result: SearchResult, *, action: str, task: Task, schema: Schema,
                 features: Sequence[str], train_frame: pd.DataFrame, frame: pd.DataFrame,
                 seed: int, deadline: float | None) -> Checked:
    """Find the label issues of the search's rows and do ``action`` with them. For ``drop``
    the model fitted without them replaces ``result.model`` (and its training score), so the
    evaluation that follows scores it; when it cannot be fitted in time, nothing is dropped
    and the note says why."""
    issues = find_in_search(result, train_frame, task)
    if issues is None:
        return Checked(found=None, train_frame=train_frame, frame=frame)
    found = RunLabelIssues.of(issues, action=action, frame=frame)
    if action != "drop" or not issues.issues:
        return Checked(found=found, train_frame=train_frame, frame=frame)
    refitted = refit_without(result, train_frame, issues, task=task, schema=schema,
                             features=features, seed=seed, deadline=deadline)
    if refitted is None:
        # refit_on_all gives up when out of time, or when the search could fit only a sample
        # of the rows in memory (all rows would not fit either)
        found.note = ("not dropped: the chosen models could not be fitted again without them in "
                      "the time or memory left; raise --time-budget, or run a fixed number of "
                      "--trials")
        return Checked(found=found, train_frame=train_frame, frame=frame)
    result.model, result.train_score = refitted.model, refitted.train_score
    found.n_dropped = len(issues.issues)
    return Checked(found=found, train_frame=refitted.train_frame,
                   frame=without_issues(frame, issues))
