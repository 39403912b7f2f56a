"""What `Trainer.fit` costs per epoch over a minimal hand-written PyTorch loop (issue 3).

The same small CNN (two 3x3 conv layers on 28x28 inputs), the same 8,000 synthetic MNIST-shaped
rows, batch 64, Adam, on the CPU with 2 threads. Runs are interleaved (hand, loop, loop with the
default schedule and clipping, then the next round) so a change in the machine's load hits every
variant alike; each variant's median seconds per epoch is reported, with the load average.

    .venv/bin/python benchmarks/loop/bench_overhead.py --rounds 5 --epochs 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from trainforge.runtime.loop import LoopConfig, TensorData, Trainer

ROWS, BATCH = 8_000, 64
Runner = Callable[[TensorData, int], list[tuple[float, float]]]


def cnn(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
    )


def data() -> TensorData:
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (ROWS,), generator=g)
    images = torch.rand(ROWS, 1, 28, 28, generator=g)
    images[:, 0, labels, labels] += 1.0  # something to learn, so the losses move as in real use
    return TensorData(inputs=(images,), targets=labels)


def hand_written(rows: TensorData, epochs: int) -> list[tuple[float, float]]:
    """The loop a user would write: shuffle, slice, forward, loss, backward, step."""
    model = cnn(seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    (images,), labels = rows.inputs, rows.targets
    times = []
    for _ in range(epochs):
        started, cpu_started = time.perf_counter(), time.process_time()
        model.train()
        order = torch.randperm(ROWS, generator=g)
        for start in range(0, ROWS, BATCH):
            batch = order[start:start + BATCH]
            loss = nn.functional.cross_entropy(model(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        times.append((time.perf_counter() - started, time.process_time() - cpu_started))
    return times


def through_trainer(config: LoopConfig) -> Runner:
    def run(rows: TensorData, epochs: int) -> list[tuple[float, float]]:
        started, cpu_started = time.perf_counter(), time.process_time()
        Trainer(cnn(seed=0), LoopConfig(**{**config.to_dict(), "max_epochs": epochs})).fit(rows)
        # the whole fit, set-up included, spread over its epochs
        whole, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        return [(whole / epochs, cpu / epochs)] * epochs
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2, help="epochs per run")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = data()
    base: dict[str, Any] = {"batch_size": BATCH, "optimizer": "adam", "learning_rate": 1e-3,
                            "device": "cpu"}
    variants: dict[str, Runner] = {
        "hand-written": hand_written,
        "Trainer (constant LR, no clipping)": through_trainer(
            LoopConfig(**base, schedule="constant", clip_grad_norm=None)),
        "Trainer (cosine + warm-up, clip 1.0)": through_trainer(LoopConfig(**base)),
    }
    load_before = os.getloadavg()
    hand_written(rows, 1)  # warm-up: first-call allocations and kernel choices
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for round_index in range(args.rounds):
        names = list(variants)
        if round_index % 2:
            names.reverse()  # neither variant always runs right after the other
        for name in names:
            times[name] += variants[name](rows, args.epochs)
    load_after = os.getloadavg()
    hand = statistics.median(wall for wall, _ in times["hand-written"])
    hand_cpu = statistics.median(cpu for _, cpu in times["hand-written"])
    hand_best = min(wall for wall, _ in times["hand-written"])
    report = {"rows": ROWS, "batch_size": BATCH, "threads": args.threads, "rounds": args.rounds,
              "epochs_per_run": args.epochs, "load_before": load_before,
              "load_after": load_after, "torch": torch.__version__}
    summary: dict[str, dict[str, float]] = {}
    for name, pairs in times.items():
        wall = statistics.median(w for w, _ in pairs)
        cpu = statistics.median(c for _, c in pairs)
        summary[name] = {"median_s_per_epoch": round(wall, 4),
                         "overhead_pct": round(100 * (wall / hand - 1), 2),
                         "median_cpu_s_per_epoch": round(cpu, 4),
                         "cpu_overhead_pct": round(100 * (cpu / hand_cpu - 1), 2),
                         # other processes only ever add time: the fastest epoch is the least
                         # disturbed one, the better figure on a busy machine
                         "min_s_per_epoch": round(min(w for w, _ in pairs), 4),
                         "min_overhead_pct": round(
                             100 * (min(w for w, _ in pairs) / hand_best - 1), 2),
                         "epochs": len(pairs)}
        print(f"{name:38s} {wall:7.3f} s/epoch {100 * (wall / hand - 1):+6.2f} %   "
              f"cpu {cpu:7.3f} s {100 * (cpu / hand_cpu - 1):+6.2f} %   "
              f"min {summary[name]['min_s_per_epoch']:7.3f} s "
              f"{summary[name]['min_overhead_pct']:+6.2f} %  (n={len(pairs)})")
    print(f"load average before {load_before}, after {load_after}")
    print(json.dumps({**report, "variants": summary}))


if __name__ == "__main__":
    main()
