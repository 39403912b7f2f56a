"""Datasets: each version (fingerprint) recorded once, with its schema and profile."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from tests._paths import EXAMPLES

from trainforge.data.dataset import ColumnKind, Dataset
from trainforge.store import record_dataset
from trainforge.store.datasets import get_dataset
from trainforge.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


@pytest.fixture
def concrete() -> Dataset:
    frame = pd.read_csv(EXAMPLES / "concrete.csv")
    return Dataset(frame=frame, schema={c: ColumnKind.NUMERIC for c in frame.columns},
                   source="examples/concrete.csv")


def test_a_dataset_is_recorded_with_its_shape_schema_and_source(ws: Workspace,
                                                                concrete: Dataset):
    recorded = get_dataset(ws, record_dataset(ws, concrete))
    assert recorded is not None
    assert (recorded["n_rows"], recorded["n_columns"], recorded["source"]) == (
        1030, 9, "examples/concrete.csv")
    assert recorded["schema"]["cement"] == "numeric"
    assert recorded["fingerprint"] == concrete.fingerprint


def test_the_same_content_recorded_twice_keeps_one_row(ws: Workspace, concrete: Dataset):
    again = Dataset(frame=concrete.frame.copy(), schema=concrete.schema, source="copy.csv")
    assert record_dataset(ws, concrete) == record_dataset(ws, again)


def test_different_content_is_a_new_dataset(ws: Workspace, concrete: Dataset):
    fewer = Dataset(frame=concrete.frame.head(100), schema=concrete.schema, source="head.csv")
    assert record_dataset(ws, concrete) != record_dataset(ws, fewer)


def test_a_profile_given_later_is_kept(ws: Workspace, concrete: Dataset):
    dataset_id = record_dataset(ws, concrete)
    record_dataset(ws, concrete, {"n_missing": 0})
    recorded = get_dataset(ws, dataset_id)
    assert recorded is not None and recorded["profile"] == {"n_missing": 0}
