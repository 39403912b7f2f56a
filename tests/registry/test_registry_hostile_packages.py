"""A package from anywhere is refused unless it holds only what trainforge writes: crafted
files that would run code when opened are refused by name, and nothing in them runs.

Each crafted file is written by hand in skops' own format (a zip holding ``schema.json``), as
an attacker would, and swapped into a copy of the golden package with the manifest's hashes
updated: outside the store nothing else stands in the way.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from trainforge.errors import PackageCorrupt
from trainforge.registry import load_package

GOLDEN = Path(__file__).parent / "golden"
ESTIMATOR = "member-0-estimator.skops"


def _node(module: str, name: str, loader: str, **fields: Any) -> dict[str, Any]:
    return {"__module__": module, "__class__": name, "__loader__": loader, **fields}


def _text(value: str) -> dict[str, Any]:
    return _node("builtins", "str", "JsonNode", content=json.dumps(value), is_json=True)


def _call(module: str, function: str, *args: dict[str, Any]) -> dict[str, Any]:
    """A node skops rebuilds by calling ``module.function(*args)``."""
    return _node(module, function, "ConstructorFromReduceNode",
                 content=_node("builtins", "tuple", "TupleNode", content=list(args)))


def _empty_dict() -> dict[str, Any]:
    return _node("builtins", "dict", "DictNode", content={},
                 key_types=_node("builtins", "list", "ListNode", content=[]))


def _skops_file(path: Path, schema: dict[str, Any]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", json.dumps({**schema, "protocol": 2,
                                                    "_skops_version": "0.16.0"}))


def _package_with(tmp_path: Path, replace: dict[str, bytes] | None = None,
                  edit: dict[str, Any] | None = None) -> Path:
    """A copy of the golden package with files replaced and the manifest edited to match."""
    copy = Path(shutil.copytree(GOLDEN / "credit-1", tmp_path / "credit-1"))
    manifest = json.loads((copy / "manifest.json").read_text())
    for name, content in (replace or {}).items():
        (copy / name).write_bytes(content)
        manifest["files"][name] = {"sha256": hashlib.sha256(content).hexdigest(),
                                   "size": len(content)}
    manifest.update(edit or {})
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


def _package_with_estimator(tmp_path: Path, schema: dict[str, Any]) -> Path:
    crafted = tmp_path / "crafted.skops"
    _skops_file(crafted, schema)
    return _package_with(tmp_path, replace={ESTIMATOR: crafted.read_bytes()})


def test_a_skops_file_calling_numpys_runstring_is_refused_and_runs_nothing(tmp_path: Path):
    marker = tmp_path / "ran"
    gadget = _call("numpy.testing._private.utils", "runstring",
                   _text(f"open({str(marker)!r}, 'w').close()"), _empty_dict())
    package = _package_with_estimator(tmp_path, gadget)
    with pytest.raises(PackageCorrupt,
                       match=rf"{ESTIMATOR} names types that are not on the allow-list "
                             r"\(numpy\.testing\._private\.utils\.runstring\)"):
        load_package(package)
    assert not marker.exists()


class _OpensAFile:
    """Pickles as a call to open(marker, "w"): what unpickling would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def test_a_skops_file_asking_numpy_to_unpickle_a_file_is_refused_and_runs_nothing(
        tmp_path: Path):
    marker = tmp_path / "ran"
    payload = tmp_path / "payload.npy"
    payload.write_bytes(pickle.dumps(_OpensAFile(marker)))  # written, never loaded here
    allow_pickle = _node("builtins", "bool", "JsonNode", content="true", is_json=True)
    gadget = _call("numpy", "load", _text(str(payload)), _text("r"), allow_pickle)
    package = _package_with_estimator(tmp_path, gadget)
    with pytest.raises(PackageCorrupt, match=r"not on the allow-list \(numpy\.load\)"):
        load_package(package)
    assert not marker.exists()


def test_a_skops_file_building_a_class_from_builtins_type_is_refused(tmp_path: Path):
    subclass = _call("builtins", "type", _text("Sneaky"),
                     _node("builtins", "tuple", "TupleNode", content=[]), _empty_dict())
    package = _package_with_estimator(tmp_path, subclass)
    with pytest.raises(PackageCorrupt, match=r"not on the allow-list \(builtins\.type\)"):
        load_package(package)


def test_a_native_entry_naming_a_trainforge_module_off_the_list_is_refused_unimported(
        tmp_path: Path):
    # importing trainforge.__main__ runs the command line: the name alone must be refused
    manifest = json.loads((GOLDEN / "credit-1" / "manifest.json").read_text())
    members = manifest["members"]
    members[1]["estimator"]["class"] = "trainforge.__main__:main"
    package = _package_with(tmp_path, edit={"members": members})
    sys.modules.pop("trainforge.__main__", None)
    with pytest.raises(PackageCorrupt, match=r"trainforge\.__main__:main.*not one of the "
                                             r"classes that load native model files"):
        load_package(package)
    assert "trainforge.__main__" not in sys.modules


# ---- a package loaded outside the store: only its own manifest vouches for it ------------------
def test_a_package_without_a_manifest_is_refused(tmp_path: Path):
    package = _package_with(tmp_path)
    (package / "manifest.json").unlink()
    with pytest.raises(PackageCorrupt, match=r"manifest\.json is missing"):
        load_package(package)


def test_a_manifest_that_is_not_json_is_refused(tmp_path: Path):
    package = _package_with(tmp_path)
    (package / "manifest.json").write_text('{"format_version": 1,')
    with pytest.raises(PackageCorrupt, match=r"manifest\.json is not valid JSON"):
        load_package(package)


def test_a_manifest_without_its_file_list_is_refused(tmp_path: Path):
    package = _package_with(tmp_path, edit={"files": {}})
    with pytest.raises(PackageCorrupt, match=r"manifest\.json lists no files"):
        load_package(package)


def test_a_member_file_the_file_list_does_not_cover_is_refused(tmp_path: Path):
    package = _package_with(tmp_path)
    manifest = json.loads((package / "manifest.json").read_text())
    del manifest["files"][ESTIMATOR]
    (package / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PackageCorrupt, match=rf"uses '{ESTIMATOR}', which its file list does "
                                             "not cover"):
        load_package(package)


def test_a_listed_file_that_is_missing_is_refused_naming_it(tmp_path: Path):
    package = _package_with(tmp_path)
    (package / ESTIMATOR).unlink()
    with pytest.raises(PackageCorrupt, match=rf"{ESTIMATOR} is missing"):
        load_package(package)


def test_a_file_listed_without_its_size_and_sha256_is_refused(tmp_path: Path):
    manifest = json.loads((GOLDEN / "credit-1" / "manifest.json").read_text())
    package = _package_with(tmp_path, edit={"files": {**manifest["files"], ESTIMATOR: 1}})
    with pytest.raises(PackageCorrupt, match=rf"lists '{ESTIMATOR}' without its size and "
                                             "sha256"):
        load_package(package)


def test_a_garbled_member_entry_is_refused(tmp_path: Path):
    manifest = json.loads((GOLDEN / "credit-1" / "manifest.json").read_text())
    package = _package_with(tmp_path, edit={"members": [manifest["members"][0], "estimator"]})
    with pytest.raises(PackageCorrupt, match=r"has no estimator in members\[1\]"):
        load_package(package)


def test_a_listed_file_that_is_a_link_out_of_the_package_is_refused(tmp_path: Path):
    package = _package_with(tmp_path)
    outside = Path(shutil.copyfile(package / ESTIMATOR, tmp_path / "elsewhere.skops"))
    (package / ESTIMATOR).unlink()
    (package / ESTIMATOR).symlink_to(outside)
    with pytest.raises(PackageCorrupt, match=rf"{ESTIMATOR} is a link"):
        load_package(package)
