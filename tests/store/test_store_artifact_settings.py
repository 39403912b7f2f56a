"""TRAINFORGE_ARTIFACTS: unset, nothing changes and boto3 is never imported; a shared folder
works like a bucket; anything else is refused with what to write."""

from __future__ import annotations

import subprocess
import sys

import pytest
from tests._paths import ROOT

from trainforge.errors import BadArtifactsUrl
from trainforge.store.artifacts import open_artifact_store
from trainforge.workspace import Workspace


def test_without_the_setting_a_workspace_keeps_its_artifacts_in_its_home_alone(tmp_path):
    ws = Workspace(tmp_path)
    assert (ws.artifact_store, ws.artifacts) == (None, tmp_path / "artifacts")


def test_the_local_path_never_imports_boto3(tmp_path):
    probe = ("import sys\nfrom trainforge.workspace import Workspace\n"
             f"assert Workspace({str(tmp_path)!r}).artifact_store is None\n"
             "print(sorted({'boto3', 'botocore', 'trainforge.store.s3_artifacts'} "
             "& set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT / "src")})
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("url", ["ftp://host/x", "s3://UPPER/x", "file://relative/x"])
def test_an_artifacts_url_of_no_known_kind_is_refused_with_what_to_write(url):
    with pytest.raises(BadArtifactsUrl, match="write s3://BUCKET/PREFIX"):
        open_artifact_store(url)
