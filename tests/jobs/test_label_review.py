"""Sending a run's flagged rows to the model's labeling project (`--label-issues review`),
and the review file safe to open in a spreadsheet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from trainforge.data.dataset import ColumnKind
from trainforge.data.task import Task, TaskKind
from trainforge.evaluation.label_issues import LabelIssue, LabelIssues
from trainforge.jobs.label_issues import RunLabelIssues
from trainforge.jobs.label_review import project_name, send_for_review
from trainforge.labeling.review_items import hint_of, item_of
from trainforge.store import labeling as store
from trainforge.workspace import Workspace

TASK = Task("label", TaskKind.BINARY, "f1", classes=("ham", "spam"))
FRAME = pd.DataFrame({"text": ["win cash now", "=HYPERLINK(\"http://x\")", "lunch?"],
                      "label": ["ham", "ham", "spam"]}, index=[4, 7, 9])
ISSUES = LabelIssues(n_checked=40, issues=(
    LabelIssue(row=7, given="ham", likely="spam", given_probability=0.1,
               likely_probability=0.9),
    LabelIssue(row=4, given="ham", likely="spam", given_probability=0.2,
               likely_probability=0.8)))


@pytest.fixture
def workspace(new_workspace, tmp_path: Path) -> Workspace:
    return new_workspace(tmp_path / "home")  # tests/conftest.py: a copy of a migrated store


def send(workspace: Workspace, issues: LabelIssues = ISSUES, task: Task = TASK):
    return send_for_review(workspace, FRAME, issues, model="sms", run_id="r1", task=task,
                           schema={"text": ColumnKind.TEXT, "label": ColumnKind.CATEGORICAL},
                           features=["text"])


def test_a_lone_text_column_makes_a_text_project_showing_given_and_likely(workspace):
    sent = send(workspace)
    project = store.get_project(workspace, sent.project)
    first = store.item_payload(workspace, project, 0)
    assert (sent.project, sent.n_added, project["modality"]) == ("sms-label-issues", 2, "text")
    assert item_of(first) == {"text": "=HYPERLINK(\"http://x\")"}
    assert hint_of(first) == {"given": "ham", "likely": "spam", "likely_probability": 0.9,
                              "row": 7, "run": "r1"}


def test_a_second_run_adds_only_the_rows_the_project_lacks(workspace):
    send(workspace, LabelIssues(n_checked=40, issues=ISSUES.issues[:1]))
    sent = send(workspace)
    project = store.get_project(workspace, sent.project)
    assert (sent.n_added, sent.n_already, store.count_items(workspace, project["id"])) == (
        1, 1, 2)


def test_a_project_of_that_name_with_other_classes_is_left_alone_saying_why(workspace):
    send(workspace)
    sent = send(workspace, task=Task("label", TaskKind.BINARY, "f1", classes=("no", "yes")))
    assert sent.n_added == 0 and "exists with other classes" in sent.note


def test_the_review_file_opens_in_a_spreadsheet_without_running_a_formula(tmp_path: Path):
    found = RunLabelIssues.of(ISSUES, action="review", frame=FRAME)
    written = found.write_files(tmp_path)["label-issues.csv"]
    rows = pd.read_csv(written, keep_default_na=False)
    assert rows["text"].tolist() == ["'=HYPERLINK(\"http://x\")", "win cash now"]


@pytest.mark.parametrize(("model", "project"), [
    ("credit", "credit-label-issues"), ("my model/v2", "my-model-v2-label-issues"),
    ("x" * 150, "x" * 87 + "-label-issues")])
def test_the_project_is_named_after_the_model_in_the_letters_a_project_name_allows(
        model: str, project: str):
    assert project_name(model) == project
