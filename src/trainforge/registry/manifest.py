"""The manifest: what a model package holds, where it came from, and each file's hash."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from trainforge.errors import PackageCorrupt
from trainforge.registry.safe_files import load_object, save_object
from trainforge.store.json_values import to_json_value

if TYPE_CHECKING:
    from trainforge.algorithms.model import TabularModel
    from trainforge.rl.package import PolicyModel

POLICY_STEM = "policy"

MANIFEST = "manifest.json"
# what a package holds beside its model, which others read by name (the API, the model card)
FAIRNESS_FILE = "fairness.json"  # --sensitive-features: evaluation.fairness.assess's record
FORMAT_VERSION = 1
READABLE_FORMAT_VERSIONS = (1,)

# lineage records these libraries' versions: the ones a model's predictions depend on
_PACKAGES = {
    "trainforge": ("trainforge",),
    "sklearn": ("scikit-learn",),
    "lightgbm": ("lightgbm",),
    "xgboost": ("xgboost", "xgboost-cpu"),
    "catboost": ("catboost",),
    "numpy": ("numpy",),
    "pandas": ("pandas",),
    "skops": ("skops",),
}


def package_versions() -> dict[str, str | None]:
    """Installed versions of the libraries that shape predictions (None: not installed)."""
    found: dict[str, str | None] = {}
    for key, distributions in _PACKAGES.items():
        found[key] = None
        for distribution in distributions:
            try:
                found[key] = metadata.version(distribution)
                break
            except metadata.PackageNotFoundError:
                continue
    return found


def save_members(model: TabularModel | PolicyModel, directory: Path) -> list[dict[str, Any]]:
    """Write every member's preprocessor and estimator; returns their manifest entries.

    An object shared by several members (often the preprocessor) is written once. A policy is
    one member whose estimator is the policy's own files, with no preprocessor.
    """
    if _is_policy(model):
        return [{"algorithm": model.algorithm,
                 "params": to_json_value(model.settings, where="members[0].params"),
                 "weight": 1.0, "estimator": save_object(model, directory, stem=POLICY_STEM)}]
    written: dict[int, dict[str, Any]] = {}

    def save(obj: Any, stem: str) -> dict[str, Any]:
        if id(obj) not in written:
            written[id(obj)] = save_object(obj, directory, stem=stem)
        return written[id(obj)]

    members = model.members  # type: ignore[union-attr]  # a policy returned above
    return [{"algorithm": member.algorithm,
             "params": to_json_value(member.params, where=f"members[{index}].params"),
             "weight": float(member.weight),
             "preprocessor": save(member.preprocessor, f"member-{index}-preprocessor"),
             "estimator": save(member.estimator, f"member-{index}-estimator")}
            for index, member in enumerate(members)]


def build_manifest(model: TabularModel | PolicyModel, *, name: str, version: int, created_at: str,
                   description: str, metrics: dict[str, Any], lineage: dict[str, Any],
                   members: list[dict[str, Any]], files: dict[str, dict[str, Any]]
                   ) -> dict[str, Any]:
    """The manifest as a JSON-ready dict (``files``: name -> {"sha256", "size"})."""
    task = model.task
    inputs = getattr(model, "inputs", None)  # a table model's; a policy has none
    thresholds = getattr(model, "thresholds", None)
    return {
        "format_version": FORMAT_VERSION,
        "name": name,
        "version": version,
        "created_at": created_at,
        "description": description,
        "task": {"kind": task.kind.value, "target": task.target, "metric": task.metric,
                 "classes": list(task.classes)},
        "signature": [spec.to_dict() for spec in model.features],
        "metrics": to_json_value(metrics, where="metrics"),
        "lineage": {**to_json_value(lineage, where="lineage"),
                    "python": platform.python_version(), "packages": package_versions()},
        "members": members,
        "files": files,
        # hashed or masked inputs (--pii); the hash key is a file of the package
        **({"input_privacy": inputs.to_manifest()} if inputs is not None else {}),
        # --fairness-constraint: per-group thresholds as numbers, and the sensitive columns
        # the model does not learn from but decides by
        **({"group_thresholds": {**thresholds.to_manifest(), "inputs": [
            spec.to_dict() for spec in model.decided_by or []]}}  # type: ignore[union-attr]
           if thresholds is not None else {}),
    }


def model_from_manifest(manifest: dict[str, Any], directory: Path
                        ) -> TabularModel | PolicyModel:
    """Rebuild the fitted model (a policy for a reinforcement task); every file's hash must
    already be verified."""
    # imported here: listing and showing models must not pay for pandas
    from trainforge.algorithms.model import FeatureSpec, Member, TabularModel
    from trainforge.data.task import Task, TaskKind

    try:
        raw_task = manifest["task"]
        task = Task(target=raw_task["target"], kind=TaskKind(raw_task["kind"]),
                    metric=raw_task["metric"], classes=tuple(raw_task["classes"]))
        features = [FeatureSpec.from_dict(raw) for raw in manifest["signature"]]
        raw_members = list(manifest["members"])
    except (KeyError, TypeError, ValueError) as error:
        raise PackageCorrupt(str(directory / MANIFEST),
                             f"is missing or garbles a field ({error})") from error
    if not raw_members:
        raise PackageCorrupt(str(directory / MANIFEST), "lists no members")
    if task.kind is not TaskKind.REINFORCEMENT and not all(
            isinstance(raw.get("preprocessor"), dict) for raw in raw_members):
        raise PackageCorrupt(str(directory / MANIFEST), "has a member without a preprocessor")
    if task.kind is TaskKind.REINFORCEMENT:
        policy: PolicyModel = load_object(raw_members[0]["estimator"], directory)
        return policy
    loaded: dict[tuple[str, ...], Any] = {}

    def load(entry: dict[str, Any]) -> Any:
        key = tuple(entry.get("files", ()))  # members sharing files share one object
        if key not in loaded:
            loaded[key] = load_object(entry, directory)
        return loaded[key]

    members = [Member(algorithm=raw["algorithm"], params=raw["params"],
                      preprocessor=load(raw["preprocessor"]), estimator=load(raw["estimator"]),
                      weight=float(raw["weight"]))
               for raw in raw_members]
    inputs = None
    if "input_privacy" in manifest:
        from trainforge.data.privacy_policy import HASH_KEY_FILE, InputPrivacy

        key_file = directory / HASH_KEY_FILE
        inputs = InputPrivacy.from_manifest(
            manifest["input_privacy"], key=key_file.read_bytes() if key_file.is_file() else b"")
        if inputs.hashed and not inputs.key:  # hashes under another key would mislead
            raise PackageCorrupt(str(key_file), "is missing; the model hashes "
                                 f"{', '.join(inputs.hashed)} with it")
    thresholds, decided_by = None, None
    if "group_thresholds" in manifest:
        from trainforge.algorithms.group_thresholds import GroupThresholds

        try:
            thresholds = GroupThresholds.from_manifest(manifest["group_thresholds"])
            decided_by = [FeatureSpec.from_dict(raw)
                          for raw in manifest["group_thresholds"]["inputs"]]
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise PackageCorrupt(str(directory / MANIFEST),
                                 f"garbles its group_thresholds ({error})") from error
    return TabularModel(task=task, features=features, members=members, inputs=inputs,
                        thresholds=thresholds, decided_by=decided_by)


def _is_policy(model: TabularModel | PolicyModel) -> TypeGuard[PolicyModel]:
    # by task, not by class: the registry must not import the RL stack to save a table model
    return model.task.kind.value == "reinforcement"
