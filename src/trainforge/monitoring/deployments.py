"""What serves a model: the platform's deployment records, and what `trainforge serve` logged.

`trainforge serve` keeps no deployment record: it logs under the model's name. A log folder
with no record stands for the version that answered there last, so feedback, monitoring and
retraining treat a model served either way alike.
"""

from __future__ import annotations

from pathlib import Path

from trainforge.monitoring.prediction_log import read_predictions
from trainforge.store.deployments import DeploymentRecord, list_deployments
from trainforge.store.handle import StoreHandle


def served_without_record(log_root: Path, name: str) -> DeploymentRecord | None:
    """What `trainforge serve` served under ``name``, from its latest logged row; None when
    nothing was logged there."""
    try:
        latest = read_predictions(log_root, name, columns=["time", "row", "model", "version"])
    except ValueError:  # not a name a log folder can have
        return None
    if latest.empty:
        return None
    last = latest.iloc[-1]
    return DeploymentRecord(name=name, model_name=str(last["model"]),
                            model_version=int(last["version"]), requested=str(last["model"]),
                            deployed_by=None, created_at=last["time"].to_pydatetime(),
                            log_policy=None, shadow_model=None, shadow_version=None,
                            promotion_rule=None)


def deployments_of(store: StoreHandle, model_name: str, *,
                   log_root: Path | None = None) -> list[DeploymentRecord]:
    """The deployments serving a version of ``model_name``: the store's records and, with
    ``log_root``, the names `trainforge serve` logged it under without one."""
    records = list_deployments(store)
    found = [d for d in records if d["model_name"] == model_name]
    if log_root is None or not log_root.is_dir():
        return found
    recorded = {d["name"] for d in records}
    for folder in sorted(p for p in log_root.iterdir() if p.is_dir()):
        if folder.name not in recorded:
            served = served_without_record(log_root, folder.name)
            if served is not None and served["model_name"] == model_name:
                found.append(served)
    return found
