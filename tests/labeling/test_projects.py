"""Making a labeling project, labelling, the queue, export and import (jobs.labeling)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pandas as pd
import pytest
from PIL import Image
from tests.labeling._projects import text_project

from trainforge.data.read import read_table
from trainforge.errors import (
    ImagePathRefused,
    ImageUnreadable,
    LabelOutsideClasses,
    NoItemsSource,
    NothingLabelled,
    UnknownImportFields,
)
from trainforge.jobs import labeling as jobs
from trainforge.store.datasets import get_dataset
from trainforge.workspace import Workspace


@pytest.fixture
def workspace(new_workspace, tmp_path: Path) -> Workspace:
    return new_workspace(tmp_path / "home")  # tests/conftest.py: a copy of a migrated store


def test_a_table_whose_target_column_is_empty_makes_one_item_per_row(workspace, tmp_path):
    table = tmp_path / "rows.csv"
    pd.DataFrame({"age": [30, 41, 52], "city": ["a", "b", "c"], "churn": [None] * 3}).to_csv(
        table, index=False)
    project = jobs.create_project(workspace, "rows", table, classes="yes,no")
    assert (project["modality"], project["target"]) == ("table", "churn")


def test_a_table_with_nothing_to_show_is_refused_saying_which_flags(workspace, tmp_path):
    table = tmp_path / "full.csv"
    pd.DataFrame({"a": [1, 2], "b": [3, 4]}).to_csv(table, index=False)
    with pytest.raises(NoItemsSource, match="--text-column or --image-column"):
        jobs.create_project(workspace, "full", table, classes="x,y")


def test_an_image_path_that_names_no_file_is_refused_naming_its_row(workspace, tmp_path):
    Image.new("L", (4, 4)).save(tmp_path / "one.png")
    table = tmp_path / "images.csv"
    pd.DataFrame({"image": ["one.png", "gone.png"]}).to_csv(table, index=False)
    with pytest.raises(ImagePathRefused, match=r"row 2.*'gone.png' names no file"):
        jobs.create_project(workspace, "pics", table, classes="x,y", image_column="image")


def test_a_file_that_is_not_an_image_is_refused_naming_it(workspace, tmp_path):
    folder = tmp_path / "pics"
    folder.mkdir()
    Image.new("L", (4, 4)).save(folder / "one.png")
    (folder / "two.png").write_text("not an image")
    with pytest.raises(ImageUnreadable, match="two.png is not a readable image"):
        jobs.create_project(workspace, "pics", folder, classes="x,y")


def test_a_folder_of_images_makes_one_item_per_image(workspace, tmp_path):
    folder = tmp_path / "pics"
    (folder / "sub").mkdir(parents=True)
    for name in ("a.png", "b.png", "sub/c.png"):
        Image.new("L", (4, 4)).save(folder / name)
    project = jobs.create_project(workspace, "pics", folder, classes="x,y")
    assert jobs.project_status(workspace, "pics").n_items == 3
    assert project["modality"] == "image"


def test_a_label_outside_the_classes_is_refused_without_repeating_it(workspace, tmp_path):
    text_project(workspace, tmp_path)
    with pytest.raises(LabelOutsideClasses, match=r"one of project 'sms'.s classes \(spam, ham\)"
                       ) as refused:
        jobs.label_item(workspace, "sms", 0, annotator="ann", label="<script>")
    assert "<script>" not in str(refused.value)


def test_an_item_waiting_for_its_second_label_comes_first(workspace, tmp_path):
    text_project(workspace, tmp_path, overlap=2)
    jobs.label_item(workspace, "sms", 4, annotator="ann", label="spam")
    _, found = jobs.next_for(workspace, "sms", annotator="bob")
    assert (found.position, found.why) == (4, "overlap")


def test_the_quick_models_order_is_followed_once_it_exists(workspace, tmp_path):
    text_project(workspace, tmp_path)
    jobs.label_item(workspace, "sms", 0, annotator="ann", label="spam")
    _, found = jobs.next_for(workspace, "sms", annotator="ann", ranked=[0, 6, 2])
    assert (found.position, found.why) == (6, "active")


def test_a_skipped_item_is_not_shown_to_its_annotator_again(workspace, tmp_path):
    text_project(workspace, tmp_path)
    jobs.label_item(workspace, "sms", 0, annotator="ann", label=None)
    assert jobs.next_for(workspace, "sms", annotator="ann")[1].position == 1
    assert jobs.next_for(workspace, "sms", annotator="bob")[1].position == 0


def test_exporting_a_project_with_no_labels_is_refused(workspace, tmp_path):
    text_project(workspace, tmp_path)
    jobs.label_item(workspace, "sms", 0, annotator="ann", label=None)  # a skip is no label
    with pytest.raises(NothingLabelled, match="no labels to export yet"):
        jobs.export_labels(workspace, "sms", out=tmp_path / "out.csv")


def test_the_exported_dataset_is_the_version_train_reads_with_who_labelled_it(workspace,
                                                                             tmp_path):
    text_project(workspace, tmp_path)
    jobs.label_item(workspace, "sms", 0, annotator="ann", label="spam")
    jobs.label_item(workspace, "sms", 1, annotator="bob", label="ham")
    done = jobs.export_labels(workspace, "sms", out=tmp_path / "out" / "sms.csv",
                              exported_by="owner")
    recorded = get_dataset(workspace, done.dataset_id)
    assert recorded["fingerprint"] == read_table(done.path).fingerprint
    assert recorded["lineage"]["annotators"] == {"ann": 1, "bob": 1}
    who = pd.read_csv(workspace.artifacts / recorded["lineage"]["labels_file"])
    assert who[["item", "label", "annotator"]].values.tolist() == [[0, "spam", "ann"],
                                                                  [1, "ham", "bob"]]


def test_a_tie_between_annotators_is_left_out_of_the_export_until_settled(workspace, tmp_path):
    text_project(workspace, tmp_path, overlap=2)
    jobs.label_item(workspace, "sms", 0, annotator="ann", label="spam")
    jobs.label_item(workspace, "sms", 0, annotator="bob", label="ham")
    jobs.label_item(workspace, "sms", 1, annotator="ann", label="ham")
    assert jobs.export_labels(workspace, "sms", out=tmp_path / "a.csv").n_rows == 1
    jobs.label_item(workspace, "sms", 0, annotator="owner", label="ham", final=True)
    assert jobs.export_labels(workspace, "sms", out=tmp_path / "b.csv").n_rows == 2


def test_labels_go_out_to_label_studio_and_come_back(workspace, tmp_path):
    text_project(workspace, tmp_path)
    jobs.label_item(workspace, "sms", 2, annotator="ann", label="spam")
    done = jobs.export_labels(workspace, "sms", out=tmp_path / "ls.json", format="label-studio")
    text_project(workspace, tmp_path, name="copy")
    assert jobs.import_labels(workspace, "copy", done.path.read_bytes(), source="ls.json",
                              imported_by="me") == 1
    assert jobs.project_status(workspace, "copy").per_person == {"ann": {"labels": 1,
                                                                          "skips": 0}}


def test_a_label_studio_file_with_unknown_fields_is_refused_by_name(workspace, tmp_path):
    text_project(workspace, tmp_path)
    tasks = [{"data": {"text": "see you at lunch"}, "annotations": [], "secret_field": 1}]
    with pytest.raises(UnknownImportFields, match="task 1 has fields.*'secret_field'"):
        jobs.import_labels(workspace, "sms", orjson.dumps(tasks), source="ls.json",
                           imported_by="me")
    assert jobs.project_status(workspace, "sms").n_labelled == 0


def test_a_csv_import_is_checked_whole_before_any_label_is_written(workspace, tmp_path):
    text_project(workspace, tmp_path)
    raw = b"item,label\n0,spam\n1,maybe\n"
    with pytest.raises(LabelOutsideClasses, match="label 2 is not one of"):
        jobs.import_labels(workspace, "sms", raw, source="labels.csv", imported_by="me")
    assert jobs.project_status(workspace, "sms").n_labelled == 0


def test_a_csv_export_of_labels_runs_no_formula_and_imports_back_as_given(workspace, tmp_path):
    text_project(workspace, tmp_path, texts=["=cmd|' /C calc'!A0", "see you"])
    jobs.label_item(workspace, "sms", 0, annotator="ann", label="spam", note="@SUM(1)")
    out = jobs.export_labels(workspace, "sms", out=tmp_path / "labels.csv", format="csv").path
    rows = pd.read_csv(out, keep_default_na=False)
    assert (rows["text"][0], rows["note"][0]) == ("'=cmd|' /C calc'!A0", "'@SUM(1)")
    jobs.import_labels(workspace, "sms", out.read_bytes(), source="labels.csv",
                       imported_by="owner")
    assert jobs.item_labels(workspace, jobs.store.get_project(workspace, "sms"), 0)[0][
        "note"] == "@SUM(1)"


def test_the_quick_models_order_is_followed_past_its_first_twenty_items(workspace, tmp_path):
    text_project(workspace, tmp_path)
    gone = list(range(100, 130))  # positions the project does not have: never open
    _, found = jobs.next_for(workspace, "sms", annotator="ann", ranked=[*gone, 5])
    assert (found.position, found.why) == (5, "active")
