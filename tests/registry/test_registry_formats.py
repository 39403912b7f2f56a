"""Package formats stay readable: a package written by an older trainforge loads in this one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trainforge.algorithms.model import Member, TabularModel
from trainforge.errors import PackageCorrupt
from trainforge.registry import Registry, load_package

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("package", ["credit-1"])
def test_a_package_from_an_earlier_trainforge_predicts_as_it_did(package: str,
                                                                  credit: pd.DataFrame):
    expected = json.loads((GOLDEN / f"{package}.expected.json").read_text())
    loaded = load_package(GOLDEN / package)
    np.testing.assert_allclose(loaded.model.predict_proba(credit.head(expected["rows"])),
                               expected["proba"], rtol=1e-9)


def test_a_copied_package_is_still_checked_before_loading(tmp_path: Path):
    copy = shutil.copytree(GOLDEN / "credit-1", tmp_path / "credit-1")
    (copy / "member-1-estimator.lgb.txt").write_text("tree\n")
    with pytest.raises(PackageCorrupt, match="member-1-estimator.lgb.txt is 5 bytes"):
        load_package(copy)


def test_members_sharing_a_preprocessor_store_it_once_and_load_it_once(
        registry: Registry, classifier: TabularModel, lineage: dict):
    member = classifier.members[0]
    twin = Member(algorithm="logistic_regression", params={"C": 1.0}, weight=2.0,
                  preprocessor=member.preprocessor, estimator=member.estimator)
    model = TabularModel(task=classifier.task, features=classifier.features,
                         members=[member, twin])
    version = registry.register(model, name="credit", metrics={}, lineage=lineage)
    loaded = registry.load("credit").model
    assert len(list(version.path.glob("*preprocessor*"))) == 1
    assert loaded.members[0].preprocessor is loaded.members[1].preprocessor


def test_writing_a_model_file_does_not_hold_a_second_copy_of_the_model(tmp_path: Path):
    # skops builds its whole archive in memory before writing it: for a forest of deep trees
    # (hundreds of node arrays), a second copy of the model at the moment memory is fullest.
    # The file is written as it is built, so the peak stays near one array's worth.
    import tracemalloc

    from trainforge.registry.safe_files import load_object, save_object

    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=250_000) for _ in range(12)]  # 2 MB each, like a tree's nodes
    held = sum(a.nbytes for a in arrays)
    tracemalloc.start()
    try:
        entry = save_object(arrays, tmp_path, stem="trees")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.4 * held, f"{peak / 2**20:.0f} MB traced while writing {held / 2**20:.0f} MB"
    for loaded, written in zip(load_object(entry, tmp_path), arrays, strict=True):
        np.testing.assert_array_equal(loaded, written)
