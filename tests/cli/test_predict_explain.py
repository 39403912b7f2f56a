"""`trainforge predict … --explain`: each row's top contributions written beside its prediction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.serving.models import adult, trainforge_pipeline
from tests.serving.network_models import fitted_image_network, images, texts

from trainforge.registry.loaded import LoadedModel
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


@pytest.fixture(scope="module")
def text_home(text_network_model: LoadedModel, tmp_path_factory: pytest.TempPathFactory
              ) -> Path:
    """A workspace with ``words`` 1: tests/conftest.py's text network, registered."""
    home = tmp_path_factory.mktemp("words")
    Workspace(home).registry.register(text_network_model.model, name="words", metrics={},
                                      lineage={})
    return home


def test_a_text_networks_rows_get_their_top_words_largest_first(cli, text_home: Path,
                                                                tmp_path: Path):
    sent, level = texts(5, seed=2)
    pd.DataFrame({"text": sent}).to_csv(tmp_path / "new.csv", index=False)
    done = cli("predict", "words", str(tmp_path / "new.csv"), "-o", str(tmp_path / "out.csv"),
               "--explain", "--top-k", "2", home=text_home)
    assert done.returncode == 0, done.stderr
    written = pd.read_csv(tmp_path / "out.csv")
    top = [[pair.rsplit(" ", 1) for pair in cell.split("; ")] for cell in written["explain.words"]]
    assert [t[0][0] for t in top] == [["alpha", "bravo", "charlie"][v] for v in level]
    assert all(len(t) == 2 and float(t[0][1]) >= float(t[1][1]) for t in top)
    assert list(written["explain.class"]) == list(written["prediction"])


def test_an_image_folder_gets_a_heat_map_per_image_beside_the_output(cli, tmp_path: Path):
    home = tmp_path / "home"
    Workspace(home).registry.register(fitted_image_network(home).model, name="pixels",
                                      metrics={}, lineage={})
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, picture in enumerate(images(3)):
        (folder / f"shot{i}.png").write_bytes(picture)
    done = cli("predict", "pixels", str(folder), "-o", str(tmp_path / "scored.csv"), "--explain",
               home=home)
    assert done.returncode == 0, done.stderr
    written = pd.read_csv(tmp_path / "scored.csv")
    assert list(written["explain.map"]) == [f"scored.explained/00000{i + 1}-shot{i}.png"
                                            for i in range(3)]
    assert all((tmp_path / m).read_bytes()[:4] == b"\x89PNG" for m in written["explain.map"])
