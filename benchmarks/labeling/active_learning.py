"""Labels needed to reach 95 % of the fully-labelled quick model's score: active vs random order.

A simulated annotator answers from the true labels. Per data set: a stratified 80/20 split
(seed 0) into a pool to label and a test split that is never labelled; the pool is capped at
``--pool`` items (a stratified sample). The target is 95 % of the test macro F1 of the quick
model fitted on every pool label. Each run starts from the same seeded random labels (at least
``START`` and two classes), then adds a batch (10, or 5 % of the labels so far when more)
chosen either at random (what a project does without active learning: the source order of a
shuffled table) or by ``next_items`` (margin, with diversity), refits, and scores the test
split; the count is the first at which the score reaches the target. Medians over seeds.

    python benchmarks/labeling/active_learning.py               # all four, 5 seeds
    python benchmarks/labeling/active_learning.py --data sms --seeds 3

Data: ../shared/data (SMS spam, the MNIST test set written out as PNG files so the image path
of the quick model is the one measured) and ../shared/bench (adult, satimage).
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

from trainforge.labeling.active import QuickModel, fit_quick_model, next_items

SHARED = Path(__file__).resolve().parents[3] / "shared"
TARGET_SHARE = 0.95
START = 10
MIN_BATCH = 10
BATCH_SHARE = 0.05


@dataclass(frozen=True)
class Task:
    name: str
    modality: str
    items: pd.DataFrame  # index = item id
    labels: pd.Series


def sms(_: Path) -> Task:
    frame = pd.read_csv(SHARED / "data/sms_spam/SMSSpamCollection.gz", sep="\t", header=None,
                        names=["label", "text"], quoting=3)
    return Task("sms_spam (text)", "text", frame[["text"]], frame["label"])


def _idx(path: Path, header: int) -> np.ndarray:
    with gzip.open(path, "rb") as handle:
        return np.frombuffer(handle.read()[header:], dtype=np.uint8)


def mnist(folder: Path) -> Task:
    pixels = _idx(SHARED / "data/mnist/t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    digits = _idx(SHARED / "data/mnist/t10k-labels-idx1-ubyte.gz", 8)
    paths = []
    for i, image in enumerate(pixels):
        path = folder / f"{i:05d}.png"
        Image.fromarray(image).save(path)
        paths.append(str(path))
    return Task("mnist (images)", "image", pd.DataFrame({"path": paths}),
                pd.Series(digits.astype(str)))


def bench_table(name: str, target: str) -> Callable[[Path], Task]:
    def load(_: Path) -> Task:
        frame = pd.read_csv(SHARED / f"bench/data/{name}.csv.gz")
        return Task(f"{name} (table)", "table", frame.drop(columns=[target]),
                    frame[target].astype(str))
    return load


DATA = {"sms": sms, "mnist": mnist, "adult": bench_table("adult", "class"),
        "satimage": bench_table("satimage", "Class")}


def split(task: Task, pool_cap: int) -> tuple[pd.Index, pd.Index]:
    pool, test = train_test_split(task.items.index, test_size=0.2, random_state=0,
                                  stratify=task.labels)
    if len(pool) > pool_cap:
        pool, _ = train_test_split(pool, train_size=pool_cap, random_state=0,
                                   stratify=task.labels.loc[pool])
    return pd.Index(np.sort(pool)), pd.Index(test)


def score(task: Task, model: QuickModel, test: pd.Index) -> float:
    predicted = model.classifier.predict(model.features.transform(task.items.loc[test]))
    return float(f1_score(task.labels.loc[test], predicted, average="macro"))


def start_labels(task: Task, order: pd.Index) -> int:
    """How many of ``order`` to label first: ``START``, more until two classes are in."""
    n = START
    while task.labels.loc[order[:n]].nunique() < 2:
        n += 1
    return n


def labels_needed(task: Task, pool: pd.Index, test: pd.Index, *, target: float, seed: int,
                  active: bool) -> int:
    order = pool[np.random.default_rng(seed).permutation(len(pool))]
    n_first = start_labels(task, order)
    known = pd.Series(None, index=pool, dtype=object)
    known.loc[order[:n_first]] = task.labels.loc[order[:n_first]]
    rest = list(order[n_first:])  # the random order's queue
    items = task.items.loc[pool]
    while True:
        n = int(known.notna().sum())
        model = fit_quick_model(items, known, modality=task.modality, seed=seed)
        if n == len(pool) or score(task, model, test) >= target:
            return n
        batch = max(MIN_BATCH, int(n * BATCH_SHARE))
        if active:
            chosen = next_items(model, items, known, size=batch)
        else:
            chosen, rest = rest[:batch], rest[batch:]
        known.loc[chosen] = task.labels.loc[chosen]


def timings(task: Task, pool: pd.Index, n_labels: int) -> tuple[float, float, float]:
    """Median seconds of a refit on ``n_labels`` labels (CPU time, which a shared machine
    does not inflate, and wall time) and of ordering the rest of the pool (wall)."""
    known = pd.Series(None, index=pool, dtype=object)
    some = pool[np.random.default_rng(0).permutation(len(pool))[:n_labels]]
    known.loc[some] = task.labels.loc[some]
    items = task.items.loc[pool]
    cpu, wall, orders = [], [], []
    for _ in range(3):
        began, began_cpu = time.perf_counter(), time.process_time()
        model = fit_quick_model(items, known, modality=task.modality)
        cpu.append(time.process_time() - began_cpu)
        wall.append(time.perf_counter() - began)
        began = time.perf_counter()
        next_items(model, items, known, size=20)
        orders.append(time.perf_counter() - began)
    return statistics.median(cpu), statistics.median(wall), statistics.median(orders)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="*", default=list(DATA), choices=list(DATA))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--pool", type=int, default=5_000, help="items to label at most")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for key in args.data:
            task = DATA[key](Path(folder))
            pool, test = split(task, args.pool)
            full = score(task, fit_quick_model(task.items.loc[pool], task.labels.loc[pool],
                                               modality=task.modality), test)
            target = TARGET_SHARE * full
            print(f"{task.name}: pool {len(pool):,}, test {len(test):,}, classes "
                  f"{task.labels.nunique()}; all-labelled macro F1 {full:.3f}, target {target:.3f}")
            needed = {"random": [], "active": []}
            for seed in range(args.seeds):
                for name in ("random", "active"):
                    needed[name].append(labels_needed(task, pool, test, target=target, seed=seed,
                                                      active=name == "active"))
                print(f"  seed {seed}: random {needed['random'][-1]:,}, "
                      f"active {needed['active'][-1]:,}", flush=True)
            random_n = statistics.median(needed["random"])
            active_n = statistics.median(needed["active"])
            n_timed = min(2_000, len(pool) // 2)
            cpu_s, fit_s, order_s = timings(task, pool, n_timed)
            print(f"  median labels: random {random_n:,.0f}, active {active_n:,.0f} "
                  f"({1 - active_n / random_n:.0%} fewer); refit on {n_timed:,} labels "
                  f"{cpu_s:.2f} s CPU ({fit_s:.2f} s wall), ordering the rest "
                  f"{order_s:.2f} s", flush=True)


if __name__ == "__main__":
    main()
