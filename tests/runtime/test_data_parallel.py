"""Data-parallel training (`workers` > 1): the same loop on two Ray Train workers of one CPU,
on a real local Ray node, and what the local path keeps: no Ray."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import ray
import torch
from tests.server._ray import ray_node
from torch import nn

from trainforge.runtime.callbacks import Decision
from trainforge.runtime.data_parallel import DataParallel, fit_data_parallel
from trainforge.runtime.loop import EpochState, LoopConfig, TensorData, _batches

# a Ray node and two workers (~30 s to start on two busy cores): `make test-cluster`
pytestmark = [pytest.mark.slow, pytest.mark.cluster]


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, int]]:
    with pytest.MonkeyPatch.context() as patch, ray_node(num_cpus=2) as (address, pid):
        patch.setenv("RAY_AUTH_MODE", "disabled")  # the driver, as the nodes (tests/server/_ray)
        ray.init(address=address, log_to_driver=False)
        try:
            yield address, pid
        finally:
            ray.shutdown()


def blobs(rows: int, *, seed: int) -> TensorData:
    """Three classes of 8 features around three centres: learnable in a few epochs."""
    generator = torch.Generator().manual_seed(seed)
    targets = torch.randint(0, 3, (rows,), generator=generator)
    centres = torch.eye(3, 8) * 3.0
    return TensorData((centres[targets] + torch.randn(rows, 8, generator=generator),), targets)


def network() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def accuracy(module: nn.Module, data: TensorData) -> float:
    with torch.no_grad():
        return float((module(*data.inputs).argmax(1) == data.targets).float().mean())


class Epochs:
    """Keeps each epoch the leader relays; stops at ``stop_at`` or runs ``at_epoch`` once."""

    def __init__(self, *, stop_at: int | None = None, at_epoch: tuple[int, object] | None = None
                 ) -> None:
        self.seen: list[int] = []
        self.stop_at, self.at_epoch = stop_at, at_epoch

    def on_epoch_end(self, state: EpochState) -> Decision:
        self.seen.append(state.epoch)
        if self.at_epoch is not None and state.epoch == self.at_epoch[0]:
            self.at_epoch[1]()  # type: ignore[operator]
            self.at_epoch = None
        return Decision.STOP if state.epoch == self.stop_at else Decision.CONTINUE


def config(epochs: int) -> LoopConfig:
    return LoopConfig(max_epochs=epochs, batch_size=32, learning_rate=0.01, schedule="constant",
                      patience=100, device="cpu")


def test_two_workers_train_one_network_and_the_caller_sees_one_run(cluster, tmp_path: Path):
    module, epochs = network(), Epochs()
    history = fit_data_parallel(module, config(6), blobs(400, seed=1), blobs(100, seed=2),
                                plan=DataParallel(2), checkpoint_dir=tmp_path / "ck",
                                callbacks=[epochs])
    assert (len(history.epochs), epochs.seen) == (6, [1, 2, 3, 4, 5, 6])
    assert accuracy(module, blobs(200, seed=3)) > 0.9


def test_a_callbacks_stop_on_the_caller_stops_every_worker(cluster, tmp_path: Path):
    history = fit_data_parallel(network(), config(20), blobs(200, seed=1), None,
                                plan=DataParallel(2), checkpoint_dir=tmp_path / "ck",
                                callbacks=[Epochs(stop_at=2)])
    assert (len(history.epochs), history.stopped_because) == (2, "callback")


def test_a_worker_killed_mid_training_is_replaced_and_the_fit_finishes_from_its_checkpoint(
        cluster, tmp_path: Path):
    _, node = cluster

    def kill_a_worker() -> None:
        workers = [p for p in psutil.Process(node).children(recursive=True)
                   if "RayTrainWorker" in " ".join(p.cmdline())]
        workers[-1].kill()
        time.sleep(1.0)  # the leader's next step meets the dead peer

    epochs = Epochs(at_epoch=(2, kill_a_worker))
    history = fit_data_parallel(network(), config(5), blobs(4000, seed=1), None,
                                plan=DataParallel(2), checkpoint_dir=tmp_path / "ck",
                                callbacks=[epochs])
    assert len(history.epochs) == 5
    assert history.resumed_at_step is not None and history.resumed_at_step > 0


def test_a_last_batch_that_would_leave_a_replica_one_row_is_dropped():
    assert _batches(67, 32, replicas=2) == [(0, 32), (32, 64)]


def test_training_on_one_worker_never_imports_ray():
    script = ("import sys, torch\n"
              "from trainforge.runtime.loop import LoopConfig, TensorData, Trainer\n"
              "data = TensorData((torch.randn(40, 4),), torch.randint(0, 2, (40,)))\n"
              "Trainer(torch.nn.Linear(4, 2), LoopConfig(max_epochs=1, device='cpu')).fit(data)\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] == 'ray'))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]"
