"""CSV cells a spreadsheet opens as text, never as a formula."""

from __future__ import annotations

import doctest

import pandas as pd
import pytest

from trainforge.labeling import spreadsheet_safe
from trainforge.labeling.spreadsheet_safe import safe_cells, safe_text, unsafe_text


def test_the_docstring_example_runs():
    assert doctest.testmod(spreadsheet_safe).failed == 0


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_a_cell_that_starts_a_formula_gets_a_leading_quote(cell: str):
    assert safe_text(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["=1+1", "'plain", "plain", "'"])
def test_reading_a_safe_cell_back_gives_what_was_written(cell: str):
    assert unsafe_text(safe_text(cell)) == cell


def test_numbers_and_booleans_keep_their_values():
    frame = pd.DataFrame({"x": [-1.5, 2.0], "ok": [True, False], "note": ["-1", "fine"]})
    safe = safe_cells(frame)
    assert safe["x"].tolist() == [-1.5, 2.0] and safe["ok"].tolist() == [True, False]
    assert safe["note"].tolist() == ["'-1", "fine"]
