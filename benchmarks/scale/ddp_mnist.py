"""Data-parallel training: the loop on 2 Ray Train workers vs 1 process, on MNIST.

    PYTHONPATH=src python benchmarks/scale/ddp_mnist.py [--rows 6000] [--epochs 3]

Prints, for 1 and 2 workers: median seconds per epoch and the final test accuracy of the
same CNN (trainforge.algorithms.vision, simple_cnn) trained with the same seed and batch size;
then the communication share of a 2-worker step: (step with DDP's all-reduce - step under
``no_sync``) / step with the all-reduce, timed in a 2-process gloo group.

Data: the 10,000 MNIST images in /work/shared/data/mnist (t10k files): the first ``--rows``
train, the last 2,000 test. Ray is started locally with 2 CPUs and stopped at the end.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import ray
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from trainforge.algorithms.vision import build_cnn
from trainforge.runtime.data_parallel import DataParallel, fit_data_parallel
from trainforge.runtime.loop import LoopConfig, TensorData, Trainer

MNIST = Path("/work/shared/data/mnist")
TEST_ROWS = 2000


def read_mnist() -> tuple[torch.Tensor, torch.Tensor]:
    with gzip.open(MNIST / "t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(MNIST / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
    return torch.tensor(images, dtype=torch.float32) / 255.0, torch.tensor(labels.astype(np.int64))


def network() -> nn.Module:
    torch.manual_seed(0)
    return build_cnn({"kind": "simple_cnn", "in_channels": 1, "n_outputs": 10})


def config(epochs: int) -> LoopConfig:
    return LoopConfig(max_epochs=epochs, batch_size=64, learning_rate=2e-3, device="cpu",
                      patience=100)


def accuracy(module: nn.Module, test: TensorData) -> float:
    module.eval()
    with torch.no_grad():
        return float((module(*test.inputs).argmax(1) == test.targets).float().mean())


def comm_share(rank: int, world: int, port: int, steps: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    model = DistributedDataParallel(network())
    optimizer = torch.optim.AdamW(model.parameters())
    x, y = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))

    def step(sync: bool) -> float:
        started = time.perf_counter()
        optimizer.zero_grad()
        if sync:
            nn.functional.cross_entropy(model(x), y).backward()
        else:
            with model.no_sync():
                nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        dist.barrier()  # both ranks' steps end together, as with the all-reduce
        return time.perf_counter() - started

    for _ in range(5):
        step(True), step(False)
    synced = statistics.median(step(True) for _ in range(steps))
    local = statistics.median(step(False) for _ in range(steps))
    if rank == 0:
        Path(out).write_text(f"{synced} {local}")
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    images, labels = read_mnist()
    train = TensorData((images[:args.rows],), labels[:args.rows])
    test = TensorData((images[-TEST_ROWS:],), labels[-TEST_ROWS:])
    print(f"MNIST: {args.rows} training images, {TEST_ROWS} test, {args.epochs} epochs, "
          "simple_cnn, batch 64")

    torch.set_num_threads(1)  # as each Ray worker gets one CPU
    module = network()
    started = time.perf_counter()
    history = Trainer(module, config(args.epochs)).fit(train)
    one = time.perf_counter() - started
    print(f"1 worker : {statistics.median(e.epoch_s for e in history.epochs):6.2f} s/epoch "
          f"(whole fit {one:.1f} s), test accuracy {accuracy(module, test):.4f}")

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        module = network()
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            history = fit_data_parallel(module, config(args.epochs), train, None,
                                        plan=DataParallel(2), checkpoint_dir=Path(folder))
        two = time.perf_counter() - started
        print(f"2 workers: {statistics.median(e.epoch_s for e in history.epochs):6.2f} s/epoch "
              f"(whole fit {two:.1f} s, Ray start-up included), test accuracy "
              f"{accuracy(module, test):.4f}")
    finally:
        ray.shutdown()

    with tempfile.TemporaryDirectory() as folder:
        out = str(Path(folder) / "times")
        mp.spawn(comm_share, args=(2, 29500 + os.getpid() % 1000, 30, out), nprocs=2)
        synced, local = (float(v) for v in Path(out).read_text().split())
    print(f"2-worker step (32 rows each): {synced * 1e3:.1f} ms with the all-reduce, "
          f"{local * 1e3:.1f} ms without; communication share {(synced - local) / synced:.0%}")


if __name__ == "__main__":
    main()
