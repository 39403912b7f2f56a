"""Training rules: does each rule fire on a deliberately broken real run, and stay silent on
healthy ones? Prints a table of run × rules fired, the false alarms, and the cost of watching.

    PYTHONPATH=src python benchmarks/rules/rules.py            # ~5-10 min on 2 shared cores

Networks: the product's own ResNet (default_cnn_config) on MNIST / Fashion-MNIST subsets through
the runtime Trainer (so that an unnormalised input can be fed at all), and the GRU text network
(NetworkModel, as a search trains it) on SMS spam. Tables: run_training (trials=2) on Adult,
German credit and the demo's credit_g, plus a leaking column and a shuffled target.
Data from ../shared/data (or $TRAINFORGE_SHARED_DATA), all offline.
"""

from __future__ import annotations

import gzip
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from trainforge.algorithms.network import NetworkModel
from trainforge.algorithms.vision import build_cnn, default_cnn_config
from trainforge.config import TrainConfig
from trainforge.jobs.train import run_training
from trainforge.runtime.loop import LoopConfig, TensorData, Trainer
from trainforge.runtime.rule_watch import RuleWatch
from trainforge.runtime.rules import Finding
from trainforge.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("TRAINFORGE_SHARED_DATA", ROOT.parent / "shared" / "data"))
torch.set_num_threads(2)
IMAGE_ROWS, VALID_ROWS, EPOCHS = 600, 200, 3

# run name → (the rules it is meant to fire; empty: a healthy run, which must fire none)
EXPECTED = {
    "mnist healthy": set(), "fashion healthy": set(), "sms healthy": set(),
    "mnist lr=10": {"loss_diverged", "learning_rate_too_high"},
    "mnist lr=1e-8": {"learning_rate_too_low", "loss_not_decreasing"},
    "mnist shuffled labels": {"loss_not_decreasing"},
    "mnist unnormalised": {"exploding_gradients"},
    "mnist minority 5": {"minority_class_ignored"},
    "sms lr=10": {"loss_diverged", "learning_rate_too_high"},
    "sms shuffled labels": {"loss_not_decreasing"},
    "adult healthy": set(), "german healthy": set(), "demo credit_g healthy": set(),
    "adult leaking column": {"leaking_column"},
    "german shuffled target": {"target_unpredictable"},
}


def _idx(name: str) -> np.ndarray:
    with gzip.open(DATA / name, "rb") as handle:
        raw = handle.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def _images(folder: str) -> tuple[np.ndarray, np.ndarray]:
    return (_idx(f"{folder}/t10k-images-idx3-ubyte.gz").astype(np.float32),
            _idx(f"{folder}/t10k-labels-idx1-ubyte.gz").astype(np.int64))


def _image_run(pixels: np.ndarray, labels: np.ndarray, *, learning_rate: float = 2e-3,
               normalise: bool = True, watch: bool = True) -> tuple[list[Finding], float]:
    """Findings, and seconds per training step."""
    x = torch.as_tensor(pixels).unsqueeze(1)
    x = (x / 255.0 - 0.13) / 0.31 if normalise else x  # unnormalised: raw 0..255
    y = torch.as_tensor(labels)
    n = len(y) - VALID_ROWS
    found: list[Finding] = []
    torch.manual_seed(0)
    module = build_cnn(default_cnn_config(1, 28, 28, n_outputs=10))
    config = LoopConfig(max_epochs=EPOCHS, batch_size=64, learning_rate=learning_rate,
                        schedule="onecycle", device="cpu", patience=10)
    callbacks = [RuleWatch(mode="warn", report=found.append, where="resnet")] if watch else []
    trainer = Trainer(module, config, callbacks=callbacks)
    started = time.perf_counter()
    history = trainer.fit(TensorData((x[:n],), y[:n]), TensorData((x[n:],), y[n:]))
    return found, (time.perf_counter() - started) / max(1, history.epochs[-1].step)


def _text_run(texts: list[str], labels: np.ndarray, *, learning_rate: float = 3e-3
              ) -> list[Finding]:
    found: list[Finding] = []
    n = len(texts) - VALID_ROWS
    model = NetworkModel(architecture="gru", task_kind="binary", n_classes=2, max_epochs=4,
                         learning_rate=learning_rate, fixed_epochs=False, torch_threads=2)
    model.fit(texts[:n], labels[:n], eval_set=(texts[n:], labels[n:]),
              callbacks=[RuleWatch(mode="warn", report=found.append, where="gru")])
    return found


def _table_run(frame: pd.DataFrame, target: str, home: Path, name: str) -> list[str]:
    path = home / f"{name}.csv"
    frame.to_csv(path, index=False)
    heard: list[Finding] = []

    class Ear:
        def on_rule(self, finding: Finding) -> None:
            heard.append(finding)

    run_training(TrainConfig(data=str(path), target=target, trials=2, name=name),
                 workspace=Workspace(home / "ws"), observers=[Ear()])
    return [f.rule for f in heard]


def main() -> None:
    rng = np.random.default_rng(0)
    results: dict[str, list[str]] = {}
    timings: dict[str, float] = {}
    began = time.perf_counter()
    pixels, labels = _images("mnist")
    pixels, labels = pixels[:IMAGE_ROWS + VALID_ROWS], labels[:IMAGE_ROWS + VALID_ROWS]

    def image(name: str, *args: object, **options: object) -> None:
        started = time.perf_counter()
        found, _ = _image_run(*args, **options)  # type: ignore[arg-type]
        results[name], timings[name] = [f.rule for f in found], time.perf_counter() - started
        for f in found:
            print(f"  {name}: {f}", flush=True)

    image("mnist healthy", pixels, labels)
    image("mnist lr=10", pixels, labels, learning_rate=10.0)
    image("mnist lr=1e-8", pixels, labels, learning_rate=1e-8)
    image("mnist shuffled labels", pixels, rng.permutation(labels))
    image("mnist unnormalised", pixels, labels, normalise=False)
    keep = (labels != 5) | (np.cumsum(labels == 5) <= 8)  # 8 fives among ~2,000 rows
    image("mnist minority 5", pixels[keep], labels[keep])
    fashion, fashion_labels = _images("fashion_mnist")
    image("fashion healthy", fashion[:IMAGE_ROWS + VALID_ROWS],
          fashion_labels[:IMAGE_ROWS + VALID_ROWS])

    sms = pd.read_csv(DATA / "sms_spam/SMSSpamCollection.gz", sep="\t", header=None,
                      names=["label", "text"], quoting=3).sample(1200, random_state=0)
    texts, spam = sms["text"].astype(str).tolist(), (sms["label"] == "spam").to_numpy(np.int64)
    for name, options, y in (("sms healthy", {}, spam), ("sms lr=10", {"learning_rate": 10.0}, spam),
                             ("sms shuffled labels", {}, rng.permutation(spam))):
        started = time.perf_counter()
        found = _text_run(texts, y, **options)
        results[name], timings[name] = [f.rule for f in found], time.perf_counter() - started
        for f in found:
            print(f"  {name}: {f}", flush=True)

    columns = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
               "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
               "hours_per_week", "native_country", "income"]
    adult = pd.read_csv(DATA / "adult/adult.data.gz", header=None, names=columns,
                        skipinitialspace=True).sample(3000, random_state=0)
    german = pd.read_csv(DATA / "german_credit/german.data.gz", sep=" ", header=None)
    german.columns = [f"a{i}" for i in range(1, 21)] + ["credit"]
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch)
        for name, frame, target in (
                ("adult healthy", adult, "income"), ("german healthy", german, "credit"),
                ("demo credit_g healthy", pd.read_csv(ROOT / "examples/credit_g.csv"), "class"),
                ("adult leaking column", adult.assign(pays_tax_band=adult["income"]), "income"),
                ("german shuffled target",
                 german.assign(credit=rng.permutation(german["credit"].to_numpy())), "credit")):
            started = time.perf_counter()
            results[name] = _table_run(frame, target, home, name.replace(" ", "-"))
            timings[name] = time.perf_counter() - started
            print(f"  {name}: {results[name]}", flush=True)

    _report(results, timings)
    _overhead(pixels, labels)
    print(f"\ntotal {time.perf_counter() - began:.0f} s")


def _report(results: dict[str, list[str]], timings: dict[str, float]) -> None:
    print("\n| run | expected | fired | verdict | s |\n|---|---|---|---|---:|")
    false_alarms = []
    for name, fired in results.items():
        expected = EXPECTED[name]
        missed = expected - set(fired)
        extra = set(fired) - expected
        verdict = "ok" if not missed and not extra else "; ".join(filter(None, [
            f"missed {', '.join(sorted(missed))}" if missed else "",
            f"also {', '.join(sorted(extra))}" if extra else ""]))
        if not expected and fired:
            false_alarms.append(f"{name}: {', '.join(fired)}")
        print(f"| {name} | {', '.join(sorted(expected)) or 'none (healthy)'} | "
              f"{', '.join(fired) or '—'} | {verdict} | {timings[name]:.0f} |")
    print("\nfalse alarms on healthy runs:", "; ".join(false_alarms) or "none")


def _overhead(pixels: np.ndarray, labels: np.ndarray) -> None:
    """Seconds per step of the healthy MNIST run, unwatched and watched, median of 3."""
    for label, watch in (("unwatched", False), ("watched every 10 steps", True)):
        runs = [_image_run(pixels, labels, watch=watch)[1] for _ in range(3)]
        print(f"step time {label}: median {statistics.median(runs) * 1000:.1f} ms "
              f"({', '.join(f'{r * 1000:.1f}' for r in runs)})")


if __name__ == "__main__":
    sys.exit(main())
