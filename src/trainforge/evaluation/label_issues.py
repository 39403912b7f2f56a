"""Rows whose given label is likely wrong: confident learning (Northcutt et al., 2021) over
out-of-fold predicted probabilities.

    issues = find_label_issues(train_frame["class"].iloc[rows], oof, classes=task.classes)
    issues.issues[0]  # LabelIssue(row=412, given="good", likely="bad", given_probability=0.03, …)

cleanlab estimates, from the probabilities and the labels, how often each class is mislabelled
as each other one, and flags that many of the rows the model most confidently puts in another
class (``prune_by_noise_rate``). The flagged rows are ranked by self-confidence, the probability
of the label given, lowest (most likely wrong) first. The probabilities must be out-of-fold: a
model that learned a row has learned its wrong label too.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from cleanlab.filter import find_label_issues as cleanlab_find_label_issues

from trainforge.json_value import JSONValue

METHOD = ("confident learning: cleanlab.filter.find_label_issues (prune_by_noise_rate) on the "
          "search's out-of-fold probabilities, ranked by self-confidence")
# cleanlab's noise estimate needs a few rows of each class; fewer than this and a flagged row
# is a guess, so nothing is checked
MIN_CHECKED_ROWS = 10
CORRECTED_COLUMN = "corrected_label"  # the column of the review file a person fills in


@dataclass(frozen=True)
class LabelIssue:
    """One row whose label the out-of-fold predictions disagree with."""

    row: int  # the row's number in the table as read: 0 is the first row after the header
    given: str
    likely: str  # the class the predictions favour
    given_probability: float  # self-confidence: the lower, the likelier the label is wrong
    likely_probability: float


@dataclass(frozen=True)
class LabelIssues:
    """The rows checked and those flagged, most likely wrong first."""

    n_checked: int
    issues: tuple[LabelIssue, ...]
    method: str = METHOD

    @property
    def rows(self) -> list[int]:
        return [issue.row for issue in self.issues]

    def summary(self) -> dict[str, JSONValue]:
        """How many rows were checked and flagged, and how: what the manifest records."""
        return {"method": self.method, "n_checked": self.n_checked,
                "n_flagged": len(self.issues)}

    def to_dict(self) -> dict[str, JSONValue]:
        """The summary and every flagged row: the run's ``label-issues.json``."""
        return {**self.summary(), "issues": [dict(asdict(issue)) for issue in self.issues]}


def find_label_issues(given: pd.Series, probabilities: np.ndarray, *,
                      classes: Sequence[str]) -> LabelIssues:
    """The rows of ``given`` whose label is likely wrong.

    Args:
        given: each checked row's label, spelled as in ``classes``, indexed by the row's
            number in the table.
        probabilities: (rows, classes) out-of-fold probabilities, one row per label of
            ``given``, columns in the order of ``classes``.

    Rows whose probabilities are not finite (a candidate that failed on them) are not checked.
    """
    position = {label: code for code, label in enumerate(classes)}
    codes = given.map(lambda label: position.get(str(label), -1)).to_numpy(dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    usable = (codes >= 0) & np.isfinite(probabilities).all(axis=1)
    codes, probabilities = codes[usable], probabilities[usable]
    rows = np.asarray(given.index)[usable]
    if len(codes) < MIN_CHECKED_ROWS or len(np.unique(codes)) < 2:
        return LabelIssues(n_checked=0, issues=())
    # a blend's probabilities sum to 1 up to rounding; cleanlab checks that they do
    probabilities = np.clip(probabilities, 0.0, None)
    probabilities /= np.maximum(probabilities.sum(axis=1, keepdims=True), 1e-12)
    with warnings.catch_warnings():
        # "may not flag all label issues in class X, too few examples": the report's count
        # is what was found, which is all a small class allows
        warnings.simplefilter("ignore", UserWarning)
        flagged = cleanlab_find_label_issues(codes, probabilities,
                                             return_indices_ranked_by="self_confidence",
                                             n_jobs=1)  # no worker processes on a shared box
    issues = tuple(_issue(int(rows[i]), int(codes[i]), probabilities[i], classes)
                   for i in np.asarray(flagged, dtype=np.int64))
    return LabelIssues(n_checked=len(codes), issues=issues)


def _issue(row: int, code: int, probabilities: np.ndarray, classes: Sequence[str]) -> LabelIssue:
    likely = int(np.argmax(probabilities))
    return LabelIssue(row=row, given=classes[code], likely=classes[likely],
                      given_probability=round(float(probabilities[code]), 6),
                      likely_probability=round(float(probabilities[likely]), 6))


def review_table(frame: pd.DataFrame, issues: LabelIssues) -> pd.DataFrame:
    """The flagged rows of ``frame`` (indexed by row number) for a person to relabel: ``row``,
    the table's columns (the target holds the label given), the likely label and both
    probabilities, and an empty ``corrected_label`` column to fill in. Most likely wrong first.
    A column of the table named like one of those is kept as ``NAME_in_table``."""
    added = {"row": issues.rows,
             "likely_label": [issue.likely for issue in issues.issues],
             "given_probability": [issue.given_probability for issue in issues.issues],
             "likely_probability": [issue.likely_probability for issue in issues.issues],
             CORRECTED_COLUMN: [""] * len(issues.issues)}
    table = frame.loc[issues.rows].reset_index(drop=True)
    table = table.rename(columns={c: f"{c}_in_table" for c in table.columns if c in added})
    table.insert(0, "row", added.pop("row"))
    for name, values in added.items():
        table[name] = values
    return table
