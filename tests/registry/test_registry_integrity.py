"""A package is loaded only if it is exactly what was registered; a failed registration
leaves nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sklearn.preprocessing import FunctionTransformer

from trainforge.algorithms.model import Member, TabularModel
from trainforge.errors import PackageCorrupt
from trainforge.registry import Registry
from trainforge.store.tables import models


def _skops_file(path: Path) -> Path:
    return next(p for p in path.iterdir() if p.name.endswith("estimator.skops"))


def test_a_changed_file_is_refused_naming_it(registry: Registry, classifier: TabularModel,
                                             lineage: dict):
    version = registry.register(classifier, name="credit", metrics={}, lineage=lineage)
    target = _skops_file(version.path)
    content = bytearray(target.read_bytes())
    content[len(content) // 2] ^= 0xFF
    target.write_bytes(bytes(content))
    with pytest.raises(PackageCorrupt, match=rf"{target.name} does not match its sha256"):
        registry.load("credit")


def test_a_truncated_file_is_refused_naming_it(registry: Registry, classifier: TabularModel,
                                               lineage: dict):
    version = registry.register(classifier, name="credit", metrics={}, lineage=lineage)
    target = _skops_file(version.path)
    target.write_bytes(target.read_bytes()[:100])
    with pytest.raises(PackageCorrupt, match=rf"{target.name} is 100 bytes.*truncated"):
        registry.load("credit")


def test_a_missing_file_is_refused_naming_it(registry: Registry, classifier: TabularModel,
                                             lineage: dict):
    version = registry.register(classifier, name="credit", metrics={}, lineage=lineage)
    target = _skops_file(version.path)
    target.unlink()
    with pytest.raises(PackageCorrupt, match=rf"{target.name} is missing"):
        registry.load("credit")


def test_an_edited_manifest_is_refused(registry: Registry, classifier: TabularModel,
                                       lineage: dict):
    version = registry.register(classifier, name="credit", metrics={"roc_auc": 0.6},
                                lineage=lineage)
    manifest_file = version.path / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["metrics"]["roc_auc"] = 0.99
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(PackageCorrupt, match="manifest.json has changed since"):
        registry.load("credit")


def test_a_package_from_a_newer_format_says_which_formats_are_readable(
        registry: Registry, classifier: TabularModel, lineage: dict):
    version = registry.register(classifier, name="credit", metrics={}, lineage=lineage)
    manifest_file = version.path / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["format_version"] = 2
    manifest_file.write_text(json.dumps(manifest))
    _record_manifest_hash(registry, manifest_file)  # as a newer trainforge would have
    with pytest.raises(PackageCorrupt, match="format_version 2.*reads format versions 1"):
        registry.load("credit")


def test_a_model_holding_a_type_off_the_allow_list_is_refused_when_registering(
        registry: Registry, classifier: TabularModel, lineage: dict):
    member = classifier.members[0]
    sneaky = Member(algorithm="sneaky", params={}, estimator=member.estimator,
                    preprocessor=FunctionTransformer(func=eval))
    model = TabularModel(task=classifier.task, features=classifier.features, members=[sneaky])
    with pytest.raises(TypeError, match=r"may not name \(builtins\.eval, .*add them to "
                                        r"SKOPS_TYPES"):
        registry.register(model, name="sneaky", metrics={}, lineage=lineage)
    assert list((registry.root / "sneaky").iterdir()) == []


def test_a_member_that_fails_to_save_leaves_no_package_and_no_row(
        registry: Registry, classifier: TabularModel, lineage: dict):
    broken = Member(algorithm="broken", params={}, preprocessor=classifier.members[0].preprocessor,
                    estimator=_Unsaveable())
    model = TabularModel(task=classifier.task, features=classifier.features,
                         members=[classifier.members[0], broken])
    with pytest.raises(TypeError):
        registry.register(model, name="credit", metrics={}, lineage=lineage)
    assert list((registry.root / "credit").iterdir()) == []
    assert registry.list_models() == []


def test_a_store_failure_after_the_files_are_written_leaves_no_package(
        registry: Registry, classifier: TabularModel, lineage: dict):
    engine = registry.workspace.engine

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _fail_model_insert(conn, cursor, statement, *args):  # the database going away
        if statement.startswith("INSERT INTO models"):
            raise sa.exc.OperationalError(statement, {}, Exception("disk I/O error"))

    with pytest.raises(sa.exc.OperationalError):
        registry.register(classifier, name="credit", metrics={}, lineage=lineage)
    assert list((registry.root / "credit").iterdir()) == []


def test_a_registration_after_a_failed_one_gets_version_one(
        registry: Registry, classifier: TabularModel, lineage: dict):
    broken = Member(algorithm="broken", params={}, preprocessor=classifier.members[0].preprocessor,
                    estimator=_Unsaveable())
    with pytest.raises(TypeError):
        registry.register(TabularModel(task=classifier.task, features=classifier.features,
                                       members=[broken]), name="credit", metrics={},
                          lineage=lineage)
    assert registry.register(classifier, name="credit", metrics={}, lineage=lineage).version == 1


def test_a_natively_saved_class_off_the_native_list_is_refused_when_registering(
        registry: Registry, classifier: TabularModel, lineage: dict):
    foreign = Member(algorithm="foreign", params={}, estimator=_Foreign(),
                     preprocessor=classifier.members[0].preprocessor)
    model = TabularModel(task=classifier.task, features=classifier.features, members=[foreign])
    with pytest.raises(TypeError, match="is not in NATIVE_CLASSES"):
        registry.register(model, name="credit", metrics={}, lineage=lineage)
    assert list((registry.root / "credit").iterdir()) == []


class _Unsaveable:
    """An estimator holding something no safe format can store (a generator)."""

    def __init__(self) -> None:
        self.state_ = (n for n in range(3))

    def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
        return np.full((len(matrix), 2), 0.5)


class _Foreign:
    def save_native(self, directory: Path, stem: str) -> list[str]:
        (directory / f"{stem}.bin").write_bytes(b"\0")
        return [f"{stem}.bin"]

    @classmethod
    def load_native(cls, directory: Path, stem: str) -> _Foreign:
        return cls()


def _record_manifest_hash(registry: Registry, manifest_file: Path) -> None:
    import hashlib

    digest = hashlib.sha256(manifest_file.read_bytes()).hexdigest()
    with registry.workspace.engine.begin() as connection:
        connection.execute(sa.update(models).values(manifest_sha256=digest))


@pytest.mark.slow
def test_a_process_killed_mid_registration_leaves_no_package_and_its_leftovers_are_swept(
        registry: Registry, classifier: TabularModel, lineage: dict):
    registry.register(classifier, name="credit", metrics={}, lineage=lineage)
    home = registry.workspace.home
    # another process writes every file of version 2, then dies just before publishing it
    assert subprocess.run([sys.executable, "-c", _DIES_BEFORE_PUBLISHING, str(home)],
                          check=False).returncode == 9
    leftovers = [p for p in (registry.root / "credit").iterdir() if p.name.startswith(".")]
    assert [v.version for v in registry.versions("credit")] == [1]
    assert len(leftovers) == 1 and not (registry.root / "credit" / "2").exists()
    an_hour_ago = time.time() - 3700
    os.utime(leftovers[0], (an_hour_ago, an_hour_ago))
    registry.register(classifier, name="credit", metrics={}, lineage=lineage)
    assert sorted(p.name for p in (registry.root / "credit").iterdir()) == ["1", "3"]


_DIES_BEFORE_PUBLISHING = """
import os, sys
from pathlib import Path
import numpy as np, pandas as pd
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler
from trainforge.algorithms.model import FeatureSpec, Member, TabularModel
from trainforge.data.dataset import ColumnKind
from trainforge.data.task import Task, TaskKind
from trainforge.registry import package
from trainforge.workspace import Workspace

x = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
member = Member(algorithm="ridge", params={}, preprocessor=StandardScaler().fit(x),
                estimator=Ridge().fit(x.to_numpy(), np.array([1.0, 2.0, 3.0])))
model = TabularModel(task=Task(target="y", kind=TaskKind.REGRESSION, metric="r2"),
                     features=[FeatureSpec("x", ColumnKind.NUMERIC, "number")], members=[member])
package.publish = lambda staging, target: os._exit(9)
Workspace(Path(sys.argv[1])).registry.register(model, name="credit", metrics={}, lineage={})
"""
