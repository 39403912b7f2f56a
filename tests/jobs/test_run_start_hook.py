"""Observers learn a run's id as soon as the run starts: the server's job records it at once,
so a retry after a dead worker resumes that run."""

from __future__ import annotations

from typing import Any

import pytest
from tests._paths import EXAMPLES

from trainforge.config import TrainConfig
from trainforge.jobs.train import run_training
from trainforge.store.runs import get_run
from trainforge.workspace import Workspace

pytestmark = pytest.mark.slow  # runs a whole training


class RunIdRecorder:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.seen: list[tuple[str, str]] = []
        self.trials_before_start = 0

    def on_run_start(self, run_id: str) -> None:
        # the run is already in the store, still running, when the hook is told
        self.seen.append((run_id, get_run(self.workspace, run_id)["status"]))

    def on_trial_end(self, event: Any) -> None:
        if not self.seen:
            self.trials_before_start += 1


def test_on_run_start_gets_the_run_id_before_the_first_trial(tmp_path):
    workspace = Workspace(tmp_path / "home")
    recorder = RunIdRecorder(workspace)
    outcome = run_training(TrainConfig(data=str(EXAMPLES / "credit_g.csv"), target="class",
                                       algorithm="linear", trials=1),
                           workspace=workspace, observers=[recorder])
    assert recorder.seen == [(outcome.run_id, "running")]
    assert recorder.trials_before_start == 0
