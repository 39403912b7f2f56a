"""An interrupted training run, resumed, ends where an uninterrupted one ends."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from tests._paths import EXAMPLES

from trainforge.config import TrainConfig
from trainforge.errors import TrainingInterrupted
from trainforge.jobs.train import TrainingOutcome, checkpoint_root, resume_training, run_training
from trainforge.store.runs import get_run
from trainforge.workspace import Workspace

pytestmark = pytest.mark.slow  # interrupts trainings and resumes them

pytest.importorskip("torch")
Image = pytest.importorskip("PIL.Image")

# a CNN's step costs its pixels: the digits at 14×14 are a quarter of their 28×28, and a
# resumed run ends where an uninterrupted one does at any size
SIDE = 14
# 38 training images are one optimiser step an epoch, so the CNN would train 200 epochs (for
# 500 steps); a run cut at epoch 2 or 3 of 8 is as interrupted as one cut at 3 of 200
EPOCHS = 8


class CtrlCAtEpoch:
    """Presses Ctrl-C (a real SIGINT) once, after the given epoch of the first network."""

    def __init__(self, epoch: int) -> None:
        self.epoch, self.pressed = epoch, False

    def on_epoch_end(self, event: Any) -> None:
        if event.epoch == self.epoch and not self.pressed:
            self.pressed = True
            signal.raise_signal(signal.SIGINT)


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 16 example digits of 3, 5 and 8, scaled to SIDE×SIDE pixels."""
    root = tmp_path_factory.mktemp("digits")
    for label in ("3", "5", "8"):
        (root / label).mkdir()
        for image in sorted((EXAMPLES / "digits" / label).iterdir())[:16]:
            with Image.open(image) as digit:
                digit.resize((SIDE, SIDE), Image.Resampling.BILINEAR).save(root / label / image.name)
    return root


@pytest.fixture(scope="module")
def finished(digits: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, TrainingOutcome]:
    """A run that trained to its end, uninterrupted."""
    workspace = Workspace(tmp_path_factory.mktemp("finished"))
    return workspace, run_training(_config(digits), workspace=workspace)


def _config(digits: Path) -> TrainConfig:
    return TrainConfig(data=str(digits), algorithm="cnn", trials=1, seed=3, name="digits",
                       max_epochs=EPOCHS)


def test_ctrl_c_keeps_the_checkpoint_and_says_how_to_resume(digits, tmp_path):
    workspace = Workspace(tmp_path / "home")
    with pytest.raises(TrainingInterrupted, match="trainforge train --resume") as interrupted:
        run_training(_config(digits), workspace=workspace, observers=[CtrlCAtEpoch(2)])
    run_id = interrupted.value.run_id
    assert any(checkpoint_root(workspace, run_id).rglob("*.safetensors"))
    assert "--resume" in get_run(workspace, run_id)["error"]


def test_a_resumed_run_ends_with_the_metrics_of_an_uninterrupted_one(digits, finished, tmp_path):
    _, whole = finished
    workspace = Workspace(tmp_path / "interrupted")
    with pytest.raises(TrainingInterrupted) as interrupted:
        run_training(_config(digits), workspace=workspace, observers=[CtrlCAtEpoch(3)])
    resumed = resume_training(interrupted.value.run_id, workspace=workspace)
    assert resumed.evaluation.metrics == whole.evaluation.metrics
    assert resumed.run_id == interrupted.value.run_id
    assert get_run(workspace, resumed.run_id)["status"] == "succeeded"
    assert not checkpoint_root(workspace, resumed.run_id).exists()


def test_resuming_a_finished_run_says_there_is_nothing_to_resume(finished):
    from trainforge.errors import ConfigError

    workspace, done = finished
    with pytest.raises(ConfigError, match="nothing to resume"):
        resume_training(done.run_id, workspace=workspace)
