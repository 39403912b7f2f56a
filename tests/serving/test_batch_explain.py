"""predict_file with explanations: contributions beside each prediction, or a refusal first."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from trainforge.algorithms.model import TabularModel
from trainforge.data.task import TaskKind
from trainforge.errors import NotExplainable
from trainforge.registry.loaded import LoadedModel
from trainforge.serving.batch import predict_file


@pytest.fixture
def new_rows(adult_rows: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "new.csv"
    adult_rows.iloc[1500:1520].drop(columns=["class"]).to_csv(path, index=False)
    return path


def test_a_multiclass_model_writes_contributions_for_each_class(multiclass: LoadedModel,
                                                                new_rows: Path, tmp_path: Path):
    predict_file(multiclass, new_rows, tmp_path / "out.csv", explain_top_k=2)
    written = pd.read_csv(tmp_path / "out.csv")
    assert {f"explain.{label}.2.contribution" for label in multiclass.model.classes} <= set(
        written.columns)


def test_a_model_that_cannot_be_explained_is_refused_before_anything_is_written(
        classifier: LoadedModel, new_rows: Path, tmp_path: Path):
    model = TabularModel(task=replace(classifier.model.task, kind=TaskKind.CLUSTERING,
                                      classes=()),
                         features=classifier.model.features, members=classifier.model.members)
    with pytest.raises(NotExplainable, match="clustering model"):
        predict_file(replace(classifier, model=model), new_rows, tmp_path / "out.csv",
                     explain_top_k=5)
    assert not (tmp_path / "out.csv").exists()
