"""predict_file: a file of rows in, a file of predictions out, in order, chunk by chunk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests._paths import EXAMPLES

from trainforge import train
from trainforge.errors import UnreadableData
from trainforge.registry.loaded import LoadedModel
from trainforge.serving.batch import predict_file


@pytest.fixture
def new_rows(adult_rows: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "new.csv"
    adult_rows.iloc[1500:1737].drop(columns=["class"]).to_csv(path, index=False)
    return path


def test_output_has_one_row_per_input_row_in_order(classifier: LoadedModel, new_rows: Path,
                                                   tmp_path: Path):
    result = predict_file(classifier, new_rows, tmp_path / "out.csv", chunk_rows=50)
    out = pd.read_csv(tmp_path / "out.csv")
    expected = classifier.model.predict_proba(pd.read_csv(new_rows))
    assert result.n_rows == len(out) == 237
    assert np.allclose(out[["<=50K", ">50K"]].to_numpy(), expected)
    assert list(out["prediction"]) == list(classifier.model.predict(pd.read_csv(new_rows)))


def test_a_classifier_writes_prediction_and_one_column_per_class(classifier: LoadedModel,
                                                                  new_rows: Path, tmp_path: Path):
    predict_file(classifier, new_rows, tmp_path / "out.csv")
    assert list(pd.read_csv(tmp_path / "out.csv").columns) == ["prediction", "<=50K", ">50K"]


def test_a_regressor_writes_only_prediction(regressor: LoadedModel, new_rows: Path,
                                            tmp_path: Path):
    predict_file(regressor, new_rows, tmp_path / "out.csv")
    assert list(pd.read_csv(tmp_path / "out.csv").columns) == ["prediction"]


def test_the_file_is_read_in_chunks_of_chunk_rows(classifier: LoadedModel, new_rows: Path,
                                                  tmp_path: Path):
    seen: list[int] = []
    predict_file(classifier, new_rows, tmp_path / "out.csv", chunk_rows=100, progress=seen.append)
    assert seen == [100, 200, 237]


def test_an_output_ending_in_parquet_is_parquet(classifier: LoadedModel, new_rows: Path,
                                                tmp_path: Path):
    predict_file(classifier, new_rows, tmp_path / "out.parquet", chunk_rows=100)
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert len(out) == 237 and list(out.columns) == ["prediction", "<=50K", ">50K"]


def test_a_bad_chunk_names_its_rows_and_leaves_no_output(classifier: LoadedModel,
                                                         adult_rows: pd.DataFrame, tmp_path: Path):
    frame = adult_rows.iloc[:250].drop(columns=["class"]).astype({"age": object})
    frame.loc[160, "age"] = "unknown"
    frame.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(UnreadableData, match="rows 101–200"):
        predict_file(classifier, tmp_path / "bad.csv", tmp_path / "out.csv", chunk_rows=100)
    assert list(tmp_path.iterdir()) == [tmp_path / "bad.csv"]


@pytest.mark.slow  # a whole training first: seconds (measured on the loaded VM, 2026-12-06)
def test_rows_the_model_cannot_score_are_left_empty_counted_and_named(home: Path, cli,
                                                                      tmp_path: Path):
    # the linear classifier's standardised inputs times its weights overflow float64 at 1e308
    model = train(EXAMPLES / "wine.csv", target="cultivar", algorithm="linear", trials=1,
                  name="wine")
    rows = pd.read_csv(EXAMPLES / "wine.csv").drop(columns=["cultivar"]).head(6)
    rows.loc[[1, 4], "alcohol"] = 1.7e308
    rows.to_csv(tmp_path / "rows.csv", index=False)
    result = predict_file(model.loaded, tmp_path / "rows.csv", tmp_path / "out.csv")
    written = pd.read_csv(tmp_path / "out.csv")
    assert (result.n_unscored, result.unscored_rows) == (2, (2, 5))
    assert written["prediction"].isna().tolist() == [False, True, False, False, True, False]
    assert written.drop(columns=["prediction"]).iloc[[1, 4]].isna().all(axis=None)
    done = cli("predict", "wine", str(tmp_path / "rows.csv"), "--output",
               str(tmp_path / "cli.csv"), home=home)
    assert done.returncode == 0 and "2 rows could not be scored" in done.stderr
    assert "rows 2, 5" in done.stderr
