"""`trainforge predict … --explain`: each row's top contributions written beside its prediction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.serving.models import adult, trainforge_pipeline

from trainforge.workspace import Workspace


@pytest.fixture
def registered(tmp_path: Path) -> Path:
    rows = adult(600)
    model = trainforge_pipeline(rows, tmp_path).model
    Workspace(tmp_path).registry.register(model, name="adult", metrics={}, lineage={})
    new = tmp_path / "new.csv"
    rows.tail(30).drop(columns=["class"]).to_csv(new, index=False)
    return new


def test_the_explain_flag_writes_each_rows_top_contributions(cli, registered: Path,
                                                              tmp_path: Path):
    out = tmp_path / "out.csv"
    done = cli("predict", "adult", str(registered), "-o", str(out), "--explain",
               "--explain-top", "3", home=tmp_path)
    written = pd.read_csv(out)
    assert done.returncode == 0, done.stderr
    assert list(written.columns[3:]) == [
        "explain.base_value", "explain.1.feature", "explain.1.value", "explain.1.contribution",
        "explain.2.feature", "explain.2.value", "explain.2.contribution",
        "explain.3.feature", "explain.3.value", "explain.3.contribution"]
    assert set(written["explain.1.feature"]) <= set(pd.read_csv(registered).columns)


def test_the_written_contributions_start_from_the_base_value_toward_the_probability(
        cli, registered: Path, tmp_path: Path):
    out = tmp_path / "out.csv"
    cli("predict", "adult", str(registered), "-o", str(out), "--explain", "--explain-top", "50",
        home=tmp_path)
    written = pd.read_csv(out)
    listed = written.filter(like=".contribution").fillna(0.0).sum(axis=1)
    assert np.allclose(written["explain.base_value"] + listed, written[">50K"], atol=1e-6)


def test_without_the_flag_no_contributions_are_written(cli, registered: Path, tmp_path: Path):
    out = tmp_path / "out.csv"
    cli("predict", "adult", str(registered), "-o", str(out), home=tmp_path)
    assert list(pd.read_csv(out).columns) == ["prediction", "<=50K", ">50K"]
