"""The one run lifecycle every job shares, as a user finds it in the store and the registry:
a finished run names its registered model, a failed one its error, an interrupted one how to
resume it; for a table training and for a clustering alike."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests._examples import one_feature_example
from tests._paths import EXAMPLES

from trainforge.config import ClusterConfig, TrainConfig
from trainforge.errors import BadModelName, TrainingInterrupted
from trainforge.jobs.lifecycle import checkpoint_root, run_lifecycle
from trainforge.jobs.segments import SegmentsOutcome, run_clustering
from trainforge.jobs.train import TrainingOutcome, resume_training, run_training
from trainforge.store.runs import get_run
from trainforge.workspace import Workspace

WINE = EXAMPLES / "wine.csv"
NOT_A_MODEL_NAME = "wine segments/v1"  # a space and a slash: the registry refuses it


class RunIds:
    """Keeps the id of each run a job starts (``on_run_start``)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_run_start(self, run_id: str) -> None:
        self.seen.append(run_id)


@pytest.fixture(autouse=True)
def ctrl_c_reaches_this_process() -> Iterator[None]:
    """Ctrl-C as a fresh process takes it: Python's own handler, SIGINT not blocked. In the full
    suite an earlier test in the same worker leaves one or the other changed (not yet found
    which), and the pressed Ctrl-C then never arrives; both are put back after the test."""
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        signal.signal(signal.SIGINT, handler)


class CtrlCAtPhase(RunIds):
    """Presses Ctrl-C (a real SIGINT, sent to the process as a terminal does) once, when the
    job announces ``phase``. ``os.kill``, not ``signal.raise_signal``: raise() delivers to the
    calling thread alone, and one whose SIGINT is blocked keeps it pending forever."""

    def __init__(self, phase: str) -> None:
        super().__init__()
        self.phase, self.pressed = phase, False

    def on_phase(self, text: str) -> None:
        if text.startswith(self.phase) and not self.pressed:
            self.pressed = True
            os.kill(os.getpid(), signal.SIGINT)


def _training(name: str = "wine", *, data: Path = WINE) -> TrainConfig:
    return TrainConfig(data=str(data), target="cultivar", name=name, trials=1,
                       algorithm="linear")


@pytest.fixture(scope="module")
def wine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """wine.csv cut to its target and one feature, for the trainings: a run's lifecycle does
    not depend on the columns (see tests/_examples.py)."""
    return one_feature_example("wine.csv", tmp_path_factory.mktemp("wine"))


def _clustering(name: str = "wine-segments") -> ClusterConfig:
    return ClusterConfig(data=str(WINE), exclude=("cultivar",), name=name, method="kmeans", k=3,
                         time_budget_s=10)


def _packages(workspace: Workspace) -> list[str]:
    """Everything under the registry's folder: published versions and staging leftovers."""
    root = workspace.registry.root
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, wine: Path
            ) -> tuple[Workspace, TrainingOutcome]:
    workspace = Workspace(tmp_path_factory.mktemp("trained"))
    return workspace, run_training(_training(data=wine), workspace=workspace)


@pytest.fixture(scope="module")
def clustered(tmp_path_factory: pytest.TempPathFactory
              ) -> tuple[Workspace, SegmentsOutcome, RunIds]:
    workspace, runs = Workspace(tmp_path_factory.mktemp("clustered")), RunIds()
    return workspace, run_clustering(_clustering(), workspace=workspace, observers=[runs]), runs


@pytest.mark.slow  # a whole training or clustering: 1-12 s on 2 cores
def test_a_finished_training_run_is_recorded_with_the_model_it_registered(trained):
    workspace, outcome = trained
    run = get_run(workspace, outcome.run_id)
    assert (run["status"], run["model_name"], run["model_version"]) == (
        "succeeded", outcome.version.name, outcome.version.version)
    assert run["metrics"] == outcome.evaluation.metrics


@pytest.mark.slow  # a whole training or clustering: 1-12 s on 2 cores
def test_a_finished_training_run_registers_its_report_inside_the_package(trained):
    workspace, outcome = trained
    assert (workspace.registry.load(outcome.version.ref).path / "report.html").is_file()


@pytest.mark.slow  # a whole training or clustering: 1-12 s on 2 cores
def test_a_failed_training_run_is_recorded_with_its_error_and_leaves_no_package(tmp_path, wine):
    workspace, runs = Workspace(tmp_path), RunIds()
    with pytest.raises(BadModelName):
        run_training(_training(NOT_A_MODEL_NAME, data=wine), workspace=workspace,
                     observers=[runs])
    run = get_run(workspace, runs.seen[0])
    assert run["status"] == "failed"
    assert NOT_A_MODEL_NAME in run["error"]
    assert _packages(workspace) == []


@pytest.mark.slow  # a whole training or clustering: 1-12 s on 2 cores
def test_an_interrupted_training_run_says_how_to_resume_it(tmp_path, wine):
    workspace = Workspace(tmp_path)
    with pytest.raises(TrainingInterrupted, match="trainforge train --resume") as interrupted:
        run_training(_training(data=wine), workspace=workspace,
                     observers=[CtrlCAtPhase("registering the model package")])
    run = get_run(workspace, interrupted.value.run_id)
    assert run["status"] == "failed"
    assert f"trainforge train --resume {run['id']}" in run["error"]
    assert _packages(workspace) == []


@pytest.mark.slow  # a whole training or clustering: 1-12 s on 2 cores
def test_an_interrupted_training_run_resumed_finishes_as_the_same_run(tmp_path, wine):
    workspace = Workspace(tmp_path)
    with pytest.raises(TrainingInterrupted) as interrupted:
        run_training(_training(data=wine), workspace=workspace,
                     observers=[CtrlCAtPhase("writing the report")])
    resumed = resume_training(interrupted.value.run_id, workspace=workspace)
    assert resumed.run_id == interrupted.value.run_id
    assert get_run(workspace, resumed.run_id)["status"] == "succeeded"


def test_an_interrupted_run_keeps_its_checkpoints(tmp_path):
    workspace = Workspace(tmp_path)
    with pytest.raises(TrainingInterrupted) as interrupted, run_lifecycle(
            workspace, kind="train", config=_training(), dataset_id=None,
            resume_command="trainforge train") as run:
        run.checkpoints.mkdir(parents=True)
        (run.checkpoints / "epoch-1.safetensors").write_bytes(b"weights")
        signal.raise_signal(signal.SIGINT)
    assert (checkpoint_root(workspace, interrupted.value.run_id) / "epoch-1.safetensors"
            ).read_bytes() == b"weights"


def test_a_finished_run_removes_its_checkpoints(tmp_path):
    workspace = Workspace(tmp_path)
    with run_lifecycle(workspace, kind="train", config=_training(), dataset_id=None) as run:
        run.checkpoints.mkdir(parents=True)
        (run.checkpoints / "epoch-1.safetensors").write_bytes(b"weights")
    assert not run.checkpoints.exists()
    assert get_run(workspace, run.id)["status"] == "succeeded"


@pytest.mark.slow  # a whole training or clustering: 1-12 s on 2 cores
def test_a_finished_clustering_run_is_recorded_with_the_model_it_registered(clustered):
    workspace, outcome, _ = clustered
    run = get_run(workspace, outcome.run_id)
    assert (run["status"], run["kind"], run["model_name"], run["model_version"]) == (
        "succeeded", "cluster", outcome.version.name, outcome.version.version)
    assert (workspace.registry.load(outcome.version.ref).path / "report.html").is_file()


@pytest.mark.slow  # a whole clustering: 1-2 s on 2 cores
def test_a_clustering_run_tells_its_observers_its_id_as_it_starts(clustered):
    _, outcome, runs = clustered
    assert runs.seen == [outcome.run_id]


@pytest.mark.slow  # a whole training or clustering: 1-12 s on 2 cores
def test_a_failed_clustering_run_is_recorded_with_its_error_and_leaves_no_package(tmp_path):
    workspace, runs = Workspace(tmp_path), RunIds()
    with pytest.raises(BadModelName):
        run_clustering(_clustering(NOT_A_MODEL_NAME), workspace=workspace, observers=[runs])
    run = get_run(workspace, runs.seen[0])
    assert (run["status"], run["kind"]) == ("failed", "cluster")
    assert NOT_A_MODEL_NAME in run["error"]
    assert _packages(workspace) == []


def test_an_interrupted_clustering_run_is_recorded_as_interrupted(tmp_path):
    workspace = Workspace(tmp_path)
    ctrl_c = CtrlCAtPhase("describing the segments")
    with pytest.raises(KeyboardInterrupt):
        run_clustering(_clustering(), workspace=workspace, observers=[ctrl_c])
    run = get_run(workspace, ctrl_c.seen[0])
    assert (run["status"], run["error"]) == ("failed", "interrupted")
