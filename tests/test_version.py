"""The version is written once, in trainforge/version.py; the package metadata reads it."""

from __future__ import annotations

import tomllib

from tests._paths import ROOT

import trainforge
from trainforge.version import __version__


def test_pyproject_takes_the_version_from_the_version_module():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert ("version" not in project["project"], project["project"]["dynamic"],
            project["tool"]["setuptools"]["dynamic"]["version"]) == (
        True, ["version"], {"attr": "trainforge.version.__version__"})


def test_the_sdk_reports_the_version_module_s_version():
    assert trainforge.__version__ == __version__
