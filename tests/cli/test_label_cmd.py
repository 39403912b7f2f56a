"""`trainforge label create|status|export|import` in the local workspace."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests._paths import EXAMPLES


def test_label_create_then_status_shows_the_projects_items(cli, home: Path):
    made = cli("label", "create", "sms", str(EXAMPLES / "sms_spam.csv"), "--classes",
               "ham,spam", "--text-column", "text", home=home)
    assert made.returncode == 0 and "1,000 text items" in made.stdout
    shown = cli("label", "status", "sms", home=home)
    assert "0 of 1,000 items labelled" in shown.stdout


def test_label_export_before_any_label_says_to_label_first(cli, home: Path):
    cli("label", "create", "sms", str(EXAMPLES / "sms_spam.csv"), "--classes", "ham,spam",
        "--text-column", "text", home=home)
    done = cli("label", "export", "sms", home=home)
    assert done.returncode != 0 and "no labels to export yet" in done.stderr


def test_labels_imported_from_csv_export_as_a_table_train_takes(cli, home: Path, tmp_path):
    cli("label", "create", "sms", str(EXAMPLES / "sms_spam.csv"), "--classes", "ham,spam",
        "--text-column", "text", home=home)
    labels = tmp_path / "labels.csv"
    labels.write_text("item,label,annotator\n0,ham,ann\n2,spam,bob\n")
    assert cli("label", "import", "sms", str(labels), home=home).stdout.startswith(
        "imported 2 labels")
    out = tmp_path / "sms.csv"
    done = cli("label", "export", "sms", "--out", str(out), home=home)
    assert "trainforge train" in done.stdout and "--target label" in done.stdout
    assert pd.read_csv(out)["label"].tolist() == ["ham", "spam"]


@pytest.mark.slow  # a training run in a subprocess
def test_train_with_label_issues_review_says_which_labeling_project_holds_them(cli, home: Path,
                                                                               tmp_path):
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=300), rng.normal(size=300)
    label = np.where(x1 + 0.5 * x2 > 0, "yes", "no")
    label[:15] = np.where(label[:15] == "yes", "no", "yes")  # 5 % flipped
    table = tmp_path / "noisy.csv"
    pd.DataFrame({"x1": x1, "x2": x2, "label": label}).to_csv(table, index=False)
    done = cli("train", str(table), "--target", "label", "--trials", "1", "--algorithm",
               "linear", "--label-issues", "review", "--name", "noisy", home=home)
    assert done.returncode == 0, done.stderr
    assert "sent to labeling project noisy-label-issues" in " ".join(done.stdout.split())
