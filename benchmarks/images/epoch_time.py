"""Seconds per training epoch of the vision networks on 8,000 MNIST images (2 CPU threads).

    python benchmarks/images/epoch_time.py [--threads 2] [--epochs 2]

A plain loop (batch 64, Adam, cross-entropy, the default augmentation policy), timed per
epoch after one warm-up epoch, with the accuracy on the last 2,000 images, so a faster
network that learns less shows up too. Wall seconds depend on what else runs; CPU seconds
(all threads) do much less, so a busy machine still gives a usable figure: with one thread,
CPU seconds are about the wall time a quiet core would take.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from materialise import N_TRAIN, load

from trainforge.algorithms.vision import build_cnn, default_cnn_config
from trainforge.data.image_transforms import (
    DEFAULT_POLICY,
    augment,
    channel_stats,
    normalise,
    to_float,
)

BATCH = 64


def run_epoch(net: nn.Module, x: torch.Tensor, y: torch.Tensor, optimiser: torch.optim.Optimizer,
              g: torch.Generator, mean: torch.Tensor, std: torch.Tensor) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one epoch."""
    net.train()
    order = torch.randperm(len(x), generator=g)
    started, cpu_started = time.perf_counter(), time.process_time()
    for start in range(0, len(x), BATCH):
        rows = order[start:start + BATCH]
        batch = normalise(augment(x[rows], g, policy=DEFAULT_POLICY), mean, std)
        loss = nn.functional.cross_entropy(net(batch), y[rows])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return time.perf_counter() - started, time.process_time() - cpu_started


def accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor, mean: torch.Tensor,
             std: torch.Tensor) -> float:
    net.eval()
    with torch.no_grad():
        predicted = torch.cat([net(normalise(x[i:i + 500], mean, std)).argmax(1)
                               for i in range(0, len(x), 500)])
    return float((predicted == y).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--dataset", default="mnist")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images, labels = load(args.dataset)
    x = to_float(torch.from_numpy(images.copy())[:, None])
    y = torch.from_numpy(labels.astype("int64"))
    mean, std = channel_stats(x[:N_TRAIN])
    configs = {"resnet": default_cnn_config(1, 28, 28, 10),
               "simple_cnn": {"kind": "simple_cnn", "in_channels": 1, "n_outputs": 10}}
    for name, config in configs.items():
        torch.manual_seed(0)
        net = build_cnn(config)
        optimiser = torch.optim.Adam(net.parameters(), lr=2e-3)
        g = torch.Generator().manual_seed(0)
        times = [run_epoch(net, x[:N_TRAIN], y[:N_TRAIN], optimiser, g, mean, std)
                 for _ in range(args.epochs + 1)]
        acc = accuracy(net, x[N_TRAIN:], y[N_TRAIN:], mean, std)
        wall = sum(t[0] for t in times[1:]) / args.epochs
        cpu = sum(t[1] for t in times[1:]) / args.epochs
        print(f"{name}: {wall:.2f} s/epoch wall, {cpu:.2f} CPU s/epoch "
              f"(warm-up {times[0][0]:.2f} s), "
              f"accuracy {acc:.3f} after {args.epochs + 1} epochs, "
              f"{sum(p.numel() for p in net.parameters()):,} parameters, {args.threads} threads")


if __name__ == "__main__":
    main()
