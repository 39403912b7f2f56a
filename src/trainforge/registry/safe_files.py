"""Fitted objects to files and back without pickle.

An object whose class offers ``save_native(directory, stem) -> list[str]`` and the classmethod
``load_native(directory, stem)`` is written in its library's own format (LightGBM, XGBoost and
CatBoost models); anything else goes through skops, read back with an allow-list of types.
Only classes under ``trainforge.`` are ever imported to load a native file.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from trainforge.errors import PackageCorrupt

SKOPS_SUFFIX = ".skops"
# modules whose types a skops file may name; builtins and collections only for classes, so a
# file cannot smuggle in a function such as builtins.eval
_TRUSTED_MODULES = ("sklearn", "numpy", "scipy", "trainforge")
_TRUSTED_CLASS_MODULES = ("builtins", "collections")


def save_object(obj: Any, directory: Path, *, stem: str) -> dict[str, Any]:
    """Write ``obj`` into ``directory`` and return its manifest entry.

    The entry is ``{"format": "native", "class": "module:Class", "stem": stem, "files": [...]}``
    or
    ``{"format": "skops", "files": ["<stem>.skops"]}``.
    """
    cls = type(obj)
    if callable(getattr(obj, "save_native", None)) and callable(getattr(cls, "load_native", None)):
        class_path = f"{cls.__module__}:{cls.__qualname__}"
        if not _is_trainforge(cls.__module__):
            raise TypeError(f"{class_path} saves itself natively but lives outside trainforge, "
                            "so a package could never load it; move the wrapper under "
                            "trainforge.algorithms or drop save_native to use skops")
        files = [str(name) for name in obj.save_native(directory, stem)]
        for name in files:
            if Path(name).name != name or not (directory / name).is_file():
                raise TypeError(f"{class_path}.save_native returned {name!r}, which is not a "
                                f"file it wrote in {directory}; return plain file names")
        return {"format": "native", "class": class_path, "stem": stem, "files": files}
    import skops.io  # imports scikit-learn: only when a model file is written or read

    name = stem + SKOPS_SUFFIX
    skops.io.dump(obj, directory / name)
    return {"format": "skops", "files": [name]}


def load_object(entry: dict[str, Any], directory: Path) -> Any:
    """Read back what ``save_object`` wrote; the files' hashes must already be verified."""
    if entry.get("format") == "native":
        return _native_class(str(entry.get("class")), directory).load_native(
            directory, str(entry["stem"]))
    if entry.get("format") == "skops":
        import skops.io

        path = directory / entry["files"][0]
        try:
            # one pass: the types the file declares, checked against the allow-list; skops
            # itself refuses any type the file uses beyond the list it is given
            return skops.io.load(path, trusted=_allowed(path, _declared_types(path)))
        except skops.io.exceptions.UntrustedTypesFoundException:
            # a node kind the quick scan does not know: let skops audit the whole file
            return skops.io.load(path, trusted=_allowed(path, skops.io.get_untrusted_types(
                file=path)))
    raise PackageCorrupt(str(directory / "manifest.json"),
                         f"lists a member file in an unknown format {entry.get('format')!r}")


def _declared_types(path: Path) -> list[str]:
    """Every ``module.Class`` named in a skops file's schema (fast: no node objects built)."""
    import json
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as error:
        raise PackageCorrupt(str(path), f"is not a readable skops file ({error})") from error
    found: set[str] = set()
    pending: list[Any] = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if isinstance(node.get("__module__"), str) and isinstance(node.get("__class__"), str):
                found.add(f"{node['__module__']}.{node['__class__']}")
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return sorted(found)


def _allowed(path: Path, names: list[str]) -> list[str]:
    refused = [name for name in names if not _trusted_type(name)]
    if refused:
        raise PackageCorrupt(str(path), f"names types that are not on the allow-list "
                             f"({', '.join(refused)})")
    return names


def _is_trainforge(module: str) -> bool:
    return module == "trainforge" or module.startswith("trainforge.")


def _native_class(class_path: str, directory: Path) -> Any:
    manifest = str(directory / "manifest.json")
    module_name, _, qualname = class_path.partition(":")
    if not _is_trainforge(module_name) or not qualname:
        raise PackageCorrupt(manifest, f"asks to load {class_path!r}; only trainforge classes "
                             "may load native model files")
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except ModuleNotFoundError as error:
        if error.name and not _is_trainforge(error.name):  # a library the class needs
            raise PackageCorrupt(manifest, f"needs {class_path}, which needs the library "
                                 f"{error.name!r}; install it (a policy needs "
                                 "`pip install 'trainforge[rl]'`)") from error
        raise PackageCorrupt(manifest, f"needs {class_path}, which this trainforge does not "
                             "have; install the trainforge version that wrote it") from error
    except (ImportError, AttributeError) as error:
        raise PackageCorrupt(manifest, f"needs {class_path}, which this trainforge does not "
                             "have; install the trainforge version that wrote it") from error
    if not isinstance(found, type) or not callable(getattr(found, "load_native", None)):
        raise PackageCorrupt(manifest, f"asks to load {class_path!r}, which is not a class "
                             "with load_native")
    return found


def _trusted_type(name: str) -> bool:
    module, _, attribute = name.rpartition(".")
    top = module.split(".")[0]
    if top in _TRUSTED_MODULES:
        return True
    if module in _TRUSTED_CLASS_MODULES:
        try:
            return isinstance(getattr(importlib.import_module(module), attribute), type)
        except (ImportError, AttributeError):
            return False
    return False
