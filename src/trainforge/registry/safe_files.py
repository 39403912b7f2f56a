"""Fitted objects to files and back without pickle.

An object whose class offers ``save_native(directory, stem) -> list[str]`` and the classmethod
``load_native(directory, stem)`` is written in its library's own format (LightGBM, XGBoost and
CatBoost models); anything else goes through skops. Both are read back against exact lists of names
(``allowed_types``): a skops file naming any other type, or a manifest naming any other native
class, is refused before anything in it is imported or built.
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

from trainforge.errors import PackageCorrupt
from trainforge.registry.allowed_types import NATIVE_CLASSES, SKOPS_TYPES

SKOPS_SUFFIX = ".skops"
_ALLOWED_TYPES_MODULE = "trainforge/registry/allowed_types.py"
# a model's schema.json is kilobytes to a few megabytes; more is a zip bomb, not a model
_MAX_SCHEMA_BYTES = 64 << 20
_SKOPS_IMPORT = threading.Lock()


def save_object(obj: Any, directory: Path, *, stem: str) -> dict[str, Any]:
    """Write ``obj`` into ``directory`` and return its manifest entry.

    The entry is ``{"format": "native", "class": "module:Class", "stem": stem, "files": [...]}``
    or
    ``{"format": "skops", "files": ["<stem>.skops"]}``.
    """
    cls = type(obj)
    if callable(getattr(obj, "save_native", None)) and callable(getattr(cls, "load_native", None)):
        class_path = f"{cls.__module__}:{cls.__qualname__}"
        if class_path not in NATIVE_CLASSES:
            raise TypeError(f"{class_path} saves itself natively but is not in NATIVE_CLASSES "
                            f"({_ALLOWED_TYPES_MODULE}), so a package could never load it; "
                            "add it there if it is a trainforge class, or drop save_native "
                            "to use skops")
        files = [str(name) for name in obj.save_native(directory, stem)]
        for name in files:
            if Path(name).name != name or not (directory / name).is_file():
                raise TypeError(f"{class_path}.save_native returned {name!r}, which is not a "
                                f"file it wrote in {directory}; return plain file names")
        return {"format": "native", "class": class_path, "stem": stem, "files": files}
    name = stem + SKOPS_SUFFIX
    _dump_to_file(obj, directory / name)
    # refused now rather than when loading: a package that could never load is not published
    unlisted = [t for t in _declared_types(directory / name) if t not in SKOPS_TYPES]
    if unlisted:
        raise TypeError(f"{type(obj).__qualname__} holds types a package may not name "
                        f"({', '.join(unlisted)}); if trainforge really writes them, add them "
                        f"to SKOPS_TYPES in {_ALLOWED_TYPES_MODULE}")
    return {"format": "skops", "files": [name]}


def load_object(entry: dict[str, Any], directory: Path) -> Any:
    """Read back what ``save_object`` wrote; the files' hashes must already be verified."""
    if entry.get("format") == "native":
        stem = entry.get("stem")
        if not isinstance(stem, str):
            raise PackageCorrupt(str(directory / "manifest.json"),
                                 "lists a native member file without its stem")
        return _native_class(str(entry.get("class")), directory).load_native(directory, stem)
    if entry.get("format") == "skops":
        skops_io = _skops_io()
        path = directory / entry["files"][0]
        try:
            # one pass: the types the file declares, checked against the allow-list; skops
            # itself refuses any type the file uses beyond the list it is given
            return skops_io.load(path, trusted=_allowed(path, _declared_types(path)))
        except skops_io.exceptions.UntrustedTypesFoundException:
            # a node kind the quick scan does not know: let skops audit the whole file
            return skops_io.load(path, trusted=_allowed(path, skops_io.get_untrusted_types(
                file=path)))
    raise PackageCorrupt(str(directory / "manifest.json"),
                         f"lists a member file in an unknown format {entry.get('format')!r}")


def _dump_to_file(obj: Any, path: Path) -> None:
    """``skops.io.dump``, written straight into the file. skops builds the whole archive in
    memory first and then copies it out: for a forest of deep trees that is a second copy of
    the model (+100 MB while a 3,900-row extra-trees package was written). This drives the same
    steps (skops's ``SaveContext`` and ``get_state``) on the file itself, and falls back to
    ``dump`` if a skops version no longer has them."""
    skops_io = _skops_io()
    try:
        import skops
        from skops.io._utils import SaveContext, get_state
    except ImportError:
        skops_io.dump(obj, path)
        return
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        context = SaveContext(zip_file=archive)
        state = get_state(obj, context)
        context.clear_memo()
        state["protocol"] = context.protocol
        state["_skops_version"] = skops.__version__
        archive.writestr("schema.json", json.dumps(state, indent=2))


def _skops_io() -> ModuleType:
    """``skops.io``, imported (once, when a model file is first written or read) without its
    default trust list. Building that list imports every scikit-learn module, and through
    scikit-learn's vendored array-API shims, torch: +200 MB and seconds in a table run. The
    list is never used here: every load passes trainforge's own (``SKOPS_TYPES``), and
    ``get_untrusted_types`` without it only names more types for ``_allowed`` to check."""
    with _SKOPS_IMPORT:
        if "skops.io" not in sys.modules:
            import sklearn.utils

            everything = sklearn.utils.all_estimators
            sklearn.utils.all_estimators = lambda type_filter=None: []
            try:
                import skops.io  # noqa: F401 -- it reads the stand-in while it is imported
            finally:
                sklearn.utils.all_estimators = everything
    return sys.modules["skops.io"]


def _declared_types(path: Path) -> list[str]:
    """Every ``module.Class`` named in a skops file's schema (fast: no node objects built)."""
    import json
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive, archive.open("schema.json") as member:
            content = member.read(_MAX_SCHEMA_BYTES + 1)
        schema = json.loads(content)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise PackageCorrupt(str(path), f"is not a readable skops file ({error})") from error
    if len(content) > _MAX_SCHEMA_BYTES:
        raise PackageCorrupt(str(path), f"has a schema over {_MAX_SCHEMA_BYTES >> 20} MiB")
    found: set[str] = set()
    pending: list[Any] = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if "__module__" in node or "__class__" in node:
                found.add(_type_name(path, node))
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return sorted(found)


def _type_name(path: Path, node: dict[str, Any]) -> str:
    module, name = node.get("__module__"), node.get("__class__")
    if not isinstance(module, str) or not isinstance(name, str):
        # skops would import whatever these turn into: only plain names are read
        raise PackageCorrupt(str(path), "names a type by something other than a module and "
                             "class name")
    return f"{module}.{name}"


def _allowed(path: Path, names: list[str]) -> list[str]:
    refused = [name for name in names if name not in SKOPS_TYPES]
    if refused:
        raise PackageCorrupt(str(path), f"names types that are not on the allow-list "
                             f"({', '.join(refused)})")
    return names


def _is_trainforge(module: str) -> bool:
    return module == "trainforge" or module.startswith("trainforge.")


def _native_class(class_path: str, directory: Path) -> Any:
    manifest = str(directory / "manifest.json")
    if class_path not in NATIVE_CLASSES:  # checked before importing: an import runs code
        raise PackageCorrupt(manifest, f"asks to load {class_path!r}, which is not one of the "
                             f"classes that load native model files "
                             f"({', '.join(sorted(NATIVE_CLASSES))})")
    module_name, _, qualname = class_path.partition(":")
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

