"""A deployment's history: every change of what it serves is recorded, and rollback reads
it as a stack."""

from __future__ import annotations

from pathlib import Path

from trainforge.store.deployments import (
    list_events,
    previous_version,
    remove_deployment,
    save_deployment,
)
from trainforge.workspace import Workspace


def _deploy(ws: Workspace, version: int, *, action: str = "deploy") -> None:
    save_deployment(ws, name="credit", model_name="credit", model_version=version,
                    requested=f"credit:{version}", deployed_by="eve", action=action,
                    reason=f"to {version}")


def test_each_deploy_and_undeploy_is_recorded_newest_first(tmp_path: Path):
    ws = Workspace(tmp_path)
    _deploy(ws, 1)
    _deploy(ws, 2)
    remove_deployment(ws, "credit", by="ann")
    assert [(e["action"], e["from_version"], e["to_version"], e["by"])
            for e in list_events(ws, "credit")] == [
        ("undeploy", 2, None, "ann"), ("deploy", 1, 2, "eve"), ("deploy", None, 1, "eve")]


def test_the_previous_version_is_the_one_served_before_the_current(tmp_path: Path):
    ws = Workspace(tmp_path)
    _deploy(ws, 1)
    _deploy(ws, 2)
    _deploy(ws, 3, action="promote")
    assert previous_version(ws, "credit") == ("credit", 2)


def test_rolling_back_twice_goes_two_versions_back(tmp_path: Path):
    ws = Workspace(tmp_path)
    for version in (1, 2, 3):
        _deploy(ws, version)
    _deploy(ws, 2, action="rollback")
    assert previous_version(ws, "credit") == ("credit", 1)


def test_a_first_deploy_has_no_previous_version(tmp_path: Path):
    ws = Workspace(tmp_path)
    _deploy(ws, 1)
    assert previous_version(ws, "credit") is None


def test_an_undeploy_forgets_what_was_served_before_it(tmp_path: Path):
    ws = Workspace(tmp_path)
    _deploy(ws, 1)
    remove_deployment(ws, "credit")
    _deploy(ws, 2)
    assert previous_version(ws, "credit") is None
