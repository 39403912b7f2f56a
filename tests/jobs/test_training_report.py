"""What a training's report shows a user: every chart and the explanations, as a real training
writes them. Making the report cheaper (fewer calls, fewer points, fewer rows) must not lose any."""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from tests._paths import EXAMPLES

from trainforge.workspace import Workspace


@pytest.fixture
def credit_report(trained_home: Path, tmp_path: Path) -> str:
    """The report of ``credit`` version 1 (linear, two trials, seed 0), from a copy of the
    session's ``trained_home``."""
    home = tmp_path / "home"
    shutil.copytree(trained_home, home)
    workspace = Workspace(home)
    try:
        return (workspace.registry.load("credit:1").path / "report.html").read_text(
            encoding="utf-8")
    finally:
        workspace.close()


def _charts(page: str) -> dict[str, bytes]:
    return {alt: base64.b64decode(png) for alt, png in
            re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', page)}


def test_a_classifiers_report_draws_every_chart_as_a_png(credit_report: str) -> None:
    charts = _charts(credit_report)
    dependence = [alt for alt in charts if alt.startswith("Dependence on ")]
    assert [alt for alt in charts if alt not in dependence] == [
        "ROC", "Precision-recall", "Calibration", "Confusion matrix", "Permutation importance",
        "Candidates"]
    assert len(dependence) == 3
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in charts.values())


def test_a_classifiers_report_explains_every_column_over_its_sample_of_test_rows(
        credit_report: str) -> None:
    section = credit_report[credit_report.index('<section id="explanations">'):]
    section = section[:section.index("</section>")]
    ranked = re.findall(r"<tr><td>([^<]+)</td><td class=\"num\">", section)
    columns = set(pd.read_csv(EXAMPLES / "credit_g.csv", nrows=1).columns) - {"class"}
    assert "over 30 test rows" in section
    assert sorted(ranked) == sorted(columns)
