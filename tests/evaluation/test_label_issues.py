"""Label issues: confident learning flags the rows whose given label the out-of-fold
probabilities disagree with, by their row number, most likely wrong first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

from trainforge.evaluation.label_issues import (
    CORRECTED_COLUMN,
    LabelIssues,
    find_label_issues,
    review_table,
)

CLASSES = ("a", "b", "c")
N_ROWS, N_FLIPPED = 600, 30  # 5 % of the labels


@pytest.fixture(scope="module")
def flipped() -> tuple[pd.DataFrame, set[int], np.ndarray]:
    """Three well-separated blobs, 30 labels moved to another class; rows numbered from 1000
    (as a table's rows after a split keep their numbers), the out-of-fold probabilities of a
    logistic regression."""
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 3, N_ROWS)
    x = rng.normal(size=(N_ROWS, 2)) + np.array([[0, 0], [4, 0], [0, 4]])[codes]
    noisy = codes.copy()
    moved = rng.choice(N_ROWS, N_FLIPPED, replace=False)
    noisy[moved] = (codes[moved] + rng.integers(1, 3, N_FLIPPED)) % 3
    index = pd.RangeIndex(1000, 1000 + N_ROWS)
    frame = pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1],
                          "label": np.asarray(CLASSES)[noisy]}, index=index)
    probabilities = cross_val_predict(LogisticRegression(), x, noisy, cv=5,
                                      method="predict_proba")
    return frame, {int(index[i]) for i in moved}, probabilities


@pytest.fixture(scope="module")
def found(flipped: tuple[pd.DataFrame, set[int], np.ndarray]) -> LabelIssues:
    frame, _, probabilities = flipped
    return find_label_issues(frame["label"], probabilities, classes=CLASSES)


def test_most_flipped_labels_are_found(flipped, found: LabelIssues):
    assert len(set(found.rows) & flipped[1]) >= 0.8 * N_FLIPPED


def test_few_clean_labels_are_flagged(flipped, found: LabelIssues):
    assert len(set(found.rows) - flipped[1]) <= 0.03 * (N_ROWS - N_FLIPPED)


def test_every_row_is_checked_and_known_by_its_number_in_the_table(flipped, found: LabelIssues):
    assert found.n_checked == N_ROWS
    assert set(found.rows) <= set(flipped[0].index)


def test_a_flagged_row_names_the_label_given_and_the_likely_one(flipped, found: LabelIssues):
    issue = found.issues[0]
    assert issue.given == flipped[0].loc[issue.row, "label"]
    assert issue.likely != issue.given and issue.likely_probability > issue.given_probability


def test_issues_are_ranked_by_self_confidence_lowest_first(found: LabelIssues):
    confidences = [issue.given_probability for issue in found.issues]
    assert confidences == sorted(confidences)


def test_the_summary_says_how_many_and_how(found: LabelIssues):
    summary = found.summary()
    assert summary["n_flagged"] == len(found.issues) and summary["n_checked"] == N_ROWS
    assert "confident learning" in str(summary["method"])


def test_rows_without_finite_probabilities_are_not_checked(flipped):
    frame, _, probabilities = flipped
    broken = probabilities.copy()
    broken[:5] = np.nan
    assert find_label_issues(frame["label"], broken, classes=CLASSES).n_checked == N_ROWS - 5


def test_too_few_rows_are_not_checked():
    given = pd.Series(["a", "b", "a", "b"])
    probabilities = np.array([[0.1, 0.9], [0.9, 0.1], [0.8, 0.2], [0.3, 0.7]])
    assert find_label_issues(given, probabilities, classes=("a", "b")) == LabelIssues(0, ())


def test_the_review_table_holds_each_flagged_row_with_an_empty_corrected_label(flipped, found):
    table = review_table(flipped[0], found)
    assert table["row"].tolist() == found.rows
    assert list(table.columns) == ["row", "x1", "x2", "label", "likely_label",
                                   "given_probability", "likely_probability", CORRECTED_COLUMN]
    assert (table[CORRECTED_COLUMN] == "").all()


def test_a_table_column_named_like_a_review_column_is_kept_renamed(flipped, found):
    table = review_table(flipped[0].rename(columns={"x1": "row"}), found)
    assert table["row_in_table"].tolist() == flipped[0].loc[found.rows, "x1"].tolist()
