"""The coordinator job on its own (no server): a federation whose holders joined over REST but
whose clients never reach the coordinator fails, saying so, instead of waiting a day.

Needs Flower's virtualenv (`make test-federated` runs it).
"""

from __future__ import annotations

import os

import pytest
from tests._paths import EXAMPLES, ROOT

from trainforge.config import FederationConfig
from trainforge.errors import FederationFailed
from trainforge.jobs.coordinate import run_coordinator
from trainforge.jobs.federation import create_federation, declare_from_sample
from trainforge.store.federations import get_federation, record_member
from trainforge.workspace import Workspace

pytestmark = [pytest.mark.federated, pytest.mark.slow]


def test_a_holder_that_joined_but_never_connects_fails_the_federation_saying_so(
        tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINFORGE_FLOWER_VENV",
                       os.environ.get("TRAINFORGE_FLOWER_VENV", str(ROOT / ".venv-flower")))
    workspace = Workspace(tmp_path / "home")
    create_federation(FederationConfig(name="silent", target="class", min_clients=1,
                                       join_timeout_s=2, round_timeout_s=3),
                      declare_from_sample(EXAMPLES / "credit_g.csv", "class"),
                      workspace=workspace, created_by="test")
    record_member(workspace, "silent", client="silent-client-1",
                  summary={"columns": {}, "classes": [], "n_rows": 100})
    with pytest.raises(FederationFailed, match="never reached the coordinator"):
        run_coordinator("silent", workspace=workspace)
    federation = get_federation(workspace, "silent")
    assert federation["state"] == "failed" and "never reached" in federation["error"]
