"""`train(..., label_issues=)`: rows whose label looks wrong are found from the search's
out-of-fold predictions, listed in the manifest, the report and the package, and dropped
(the test split untouched) or sent to a labeling project for review; listed in the profile;
refused for regression."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import trainforge as tf
from trainforge.data.task import Task, TaskKind
from trainforge.errors import LabelIssuesNotApplicable
from trainforge.jobs import labeling as labeling_jobs
from trainforge.jobs.label_issues import check_applicable
from trainforge.labeling.review_items import hint_of, item_of
from trainforge.model import TrainedModel
from trainforge.store import labeling as labeling_store
from trainforge.store.datasets import get_dataset
from trainforge.store.runs import get_run
from trainforge.workspace import Workspace

N_ROWS = 400


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[int]]:
    """A clean linear rule with 5 % of its labels flipped; the flipped rows' numbers."""
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=N_ROWS), rng.normal(size=N_ROWS)
    label = np.where(x1 + 0.5 * x2 > 0, "yes", "no")
    flipped = rng.choice(N_ROWS, N_ROWS // 20, replace=False)
    label[flipped] = np.where(label[flipped] == "yes", "no", "yes")
    path = tmp_path_factory.mktemp("labels") / "noisy.csv"
    pd.DataFrame({"x1": x1, "x2": x2, "label": label}).to_csv(path, index=False)
    return path, set(flipped.tolist())


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("home"))


def trained(table: tuple[Path, set[int]], workspace: Workspace, action: str) -> TrainedModel:
    return tf.train(table[0], target="label", trials=1, algorithm="linear",
                    label_issues=action, workspace=workspace, name=f"noisy-{action}")


@pytest.fixture(scope="module")
def kept(table, workspace) -> TrainedModel:
    return trained(table, workspace, "keep")


@pytest.fixture(scope="module")
def dropped(table, workspace) -> TrainedModel:
    return trained(table, workspace, "drop")


@pytest.fixture(scope="module")
def reviewed(table, workspace) -> TrainedModel:
    return trained(table, workspace, "review")


def flagged_rows(model: TrainedModel) -> set[int]:
    found = json.loads((model.loaded.path / "label-issues.json").read_text(encoding="utf-8"))
    return {int(issue["row"]) for issue in found["issues"]}


def test_most_flipped_training_labels_are_found_and_few_clean_ones(table, kept: TrainedModel):
    flagged, flipped = flagged_rows(kept), table[1]
    # a fifth of the flipped rows fall in the test split, which is never checked
    assert len(flagged & flipped) >= 0.6 * len(flipped)
    assert len(flagged - flipped) <= 0.2 * len(flagged)


def test_the_manifest_records_how_many_were_flagged_and_how(kept: TrainedModel):
    entry = kept.loaded.manifest["lineage"]["label_issues"]
    assert entry["n_flagged"] == len(flagged_rows(kept)) > 0
    assert entry["action"] == "keep" and "confident learning" in entry["method"]


def test_only_the_training_rows_are_checked(kept: TrainedModel):
    lineage = kept.loaded.manifest["lineage"]
    assert lineage["label_issues"]["n_checked"] == lineage["n_train_rows"]


def test_the_report_lists_the_issues_with_given_and_likely_labels(kept: TrainedModel):
    page = (kept.loaded.path / "report.html").read_text(encoding="utf-8")
    top = json.loads((kept.loaded.path / "label-issues.json").read_text())["issues"][0]
    assert "Label issues" in page
    assert (f'<td class="num">{top["row"]}</td><td>{top["given"]}</td>'
            f'<td>{top["likely"]}</td>') in page


def test_keep_learns_from_every_training_row(kept: TrainedModel):
    assert kept.loaded.manifest["lineage"]["label_issues"]["n_dropped"] == 0


def test_drop_fits_the_model_without_the_flagged_rows(kept, dropped: TrainedModel):
    entry = dropped.loaded.manifest["lineage"]["label_issues"]
    assert entry["n_dropped"] == entry["n_flagged"] > 0
    assert dropped.loaded.manifest["lineage"]["n_train_rows"] == (
        kept.loaded.manifest["lineage"]["n_train_rows"] - entry["n_dropped"])


def test_drop_refits_the_final_model_on_every_row_but_the_flagged(dropped: TrainedModel):
    entry = dropped.loaded.manifest["lineage"]["label_issues"]
    assert f"on all {N_ROWS - entry['n_flagged']} labelled rows" in (
        dropped.loaded.manifest["lineage"]["refit"])


def test_drop_scores_the_same_test_rows_with_their_labels_as_given(kept, dropped):
    assert np.array_equal(dropped.evaluation.y_true, kept.evaluation.y_true)


def test_the_report_says_how_many_were_dropped(dropped: TrainedModel):
    page = (dropped.loaded.path / "report.html").read_text(encoding="utf-8")
    n_dropped = dropped.loaded.manifest["lineage"]["label_issues"]["n_dropped"]
    assert f"{n_dropped} were dropped" in page


def test_review_writes_the_flagged_rows_with_a_column_for_the_corrected_label(reviewed):
    rows = pd.read_csv(reviewed.loaded.path / "label-issues.csv", keep_default_na=False)
    assert list(rows.columns) == ["row", "x1", "x2", "label", "likely_label",
                                  "given_probability", "likely_probability", "corrected_label"]
    assert set(rows["row"]) == flagged_rows(reviewed) and (rows["corrected_label"] == "").all()


def test_the_review_report_says_which_labeling_project_holds_them(reviewed: TrainedModel):
    page = (reviewed.loaded.path / "report.html").read_text(encoding="utf-8")
    assert "the labeling project <strong>noisy-review-label-issues</strong>" in page
    assert "trainforge label export noisy-review-label-issues" in page


def test_review_sends_the_flagged_rows_to_the_models_labeling_project(reviewed, workspace):
    project = labeling_store.get_project(workspace, "noisy-review-label-issues")
    items = labeling_store.all_items(workspace, project["id"])
    hints = [hint_of(payload) for _, payload in items]
    assert (project["classes"], project["target"], project["modality"]) == (
        ["no", "yes"], "label", "table")
    assert {h["row"] for h in hints} == flagged_rows(reviewed)
    assert all(h["given"] != h["likely"] and h["run"] == reviewed.run_id for h in hints)
    assert set(item_of(items[0][1])) == {"x1", "x2"}


def test_the_manifest_names_the_review_project(reviewed: TrainedModel):
    entry = reviewed.loaded.manifest["lineage"]["label_issues"]
    assert (entry["review_project"], entry["n_sent"]) == (
        "noisy-review-label-issues", len(flagged_rows(reviewed)))


@pytest.mark.slow  # a second training run
def test_the_review_projects_labels_export_to_a_dataset_that_trains(reviewed, workspace,
                                                                    tmp_path: Path):
    name = "noisy-review-label-issues"
    project = labeling_store.get_project(workspace, name)
    for position, payload in labeling_store.all_items(workspace, project["id"]):
        labeling_jobs.label_item(workspace, name, position, annotator="ann",
                                 label=hint_of(payload)["likely"])
    exported = labeling_jobs.export_labels(workspace, name, out=tmp_path / "fixed.csv")
    table = pd.read_csv(exported.path)
    model = tf.train(exported.path, target="label", trials=1, algorithm="linear",
                     workspace=workspace, name="fixed")
    assert list(table.columns) == ["x1", "x2", "label"]
    assert len(table) == len(flagged_rows(reviewed)) and model.task.target == "label"


def test_the_profile_lists_the_label_issues_with_given_and_likely_labels(kept: TrainedModel):
    profile = json.loads((kept.loaded.path / "profile.json").read_text(encoding="utf-8"))
    section = profile["label_issues"]
    assert (section["count"], section["action"]) == (len(flagged_rows(kept)), "keep")
    assert "confident learning" in section["method"]
    assert set(section["top"][0]) == {"row", "given", "likely", "confidence",
                                      "given_probability"}


def test_the_datasets_recorded_profile_holds_the_label_issues(kept: TrainedModel, workspace):
    dataset_id = get_run(workspace, kept.run_id)["dataset_id"]
    section = get_dataset(workspace, dataset_id)["profile"]["label_issues"]
    assert section["count"] == len(flagged_rows(kept)) and section["top"]


def test_drop_is_refused_for_regression_naming_the_task_kind(tmp_path: Path, workspace):
    rng = np.random.default_rng(1)
    path = tmp_path / "prices.csv"
    pd.DataFrame({"size": rng.normal(size=50), "price": rng.normal(size=50)}).to_csv(path)
    with pytest.raises(LabelIssuesNotApplicable, match="this is a regression task"):
        tf.train(path, target="price", trials=1, label_issues="drop", workspace=workspace)


@pytest.mark.parametrize("kind", [TaskKind.REGRESSION, TaskKind.CLUSTERING, TaskKind.ANOMALY])
def test_review_is_refused_for_every_task_without_classes(kind: TaskKind):
    with pytest.raises(LabelIssuesNotApplicable, match=f"--label-issues review .* {kind.value}"):
        check_applicable("review", Task("y", kind, "r2"))
