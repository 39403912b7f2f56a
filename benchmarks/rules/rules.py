"""Training rules: does each rule fire on a deliberately broken real run, and stay silent on
healthy ones? Prints each finding, a run x rule matrix (F: fired), a verdict per run, the false
alarms on healthy runs, and the cost of watching (step time watched vs --rules off).

    PYTHONPATH=src python benchmarks/rules/rules.py                  # ~15 min on 2 busy cores
    PYTHONPATH=src python benchmarks/rules/rules.py image overhead   # some sections only

Networks: the product's own ResNet (default_cnn_config) on 600 MNIST / Fashion-MNIST rows (200
more for validation), 3 epochs of 64 (~30 steps), AdamW + onecycle, through the runtime Trainer
(so that an unnormalised input can be fed at all), and a plain MLP without BatchNorm; the GRU text network (NetworkModel, as a
search builds it, 4 fixed epochs) on 1,000 SMS. Tables: run_training (trials=2) on the demo's
credit_g, three tables of the AutoML bench suite (pima_diabetes, vowel, concrete), an Adult
sample, plus a leaking column and a shuffled target. Data from ../shared/data and
../shared/bench/data (or $TRAINFORGE_SHARED_DATA / $TRAINFORGE_BENCH_DATA), all offline.
"""

from __future__ import annotations

import gzip
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from trainforge.algorithms.network import NetworkModel
from trainforge.algorithms.vision import build_cnn, default_cnn_config
from trainforge.config import TrainConfig
from trainforge.jobs.train import run_training
from trainforge.runtime.loop import LoopConfig, TensorData, Trainer
from trainforge.runtime.rule_watch import RuleWatch
from trainforge.runtime.rules import ADVICE, Finding
from trainforge.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("TRAINFORGE_SHARED_DATA", ROOT.parent / "shared" / "data"))
BENCH = Path(os.environ.get("TRAINFORGE_BENCH_DATA", ROOT.parent / "shared" / "bench" / "data"))
torch.set_num_threads(2)
IMAGE_ROWS, VALID_ROWS, EPOCHS = 600, 200, 3
OVERHEAD_REPEATS = 5
SECTIONS = ("image", "text", "tables", "overhead")

# run name -> the rules it is meant to fire; empty: a healthy run, which must fire none
EXPECTED: dict[str, set[str]] = {
    "mnist healthy": set(), "fashion healthy": set(), "sms healthy": set(),
    "mnist lr=10": {"loss_diverged", "learning_rate_too_high"},
    "mnist lr=1e-8": {"learning_rate_too_low", "loss_not_decreasing"},
    "mnist shuffled labels": {"loss_not_decreasing"},
    # raw 0..255 pixels: the ResNet's BatchNorm after its first conv undoes the scale (the same
    # curve as normalised), so nothing is wrong to report; without BatchNorm it is broken
    "mnist unnormalised": set(), "mnist mlp healthy": set(),
    "mnist mlp unnormalised": {"exploding_gradients"},
    "mnist minority 5": {"minority_class_ignored"},
    "sms lr=10": {"loss_diverged", "learning_rate_too_high"},
    "sms shuffled labels": {"loss_not_decreasing"},
    "demo credit_g healthy": set(), "bench pima_diabetes healthy": set(),
    "bench vowel healthy": set(), "bench concrete healthy": set(), "adult healthy": set(),
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
               normalise: bool = True, watch: bool = True, epochs: int = EPOCHS,
               network: str = "resnet") -> tuple[list[Finding], float]:
    """Findings, and seconds per training step. ``network``: the product's ResNet, or a plain
    MLP (no normalisation layer: what an unnormalised input does without BatchNorm)."""
    x = torch.as_tensor(pixels).unsqueeze(1)
    x = (x / 255.0 - 0.13) / 0.31 if normalise else x  # unnormalised: raw 0..255
    y = torch.as_tensor(labels)
    n = len(y) - VALID_ROWS
    found: list[Finding] = []
    torch.manual_seed(0)
    module = (build_cnn(default_cnn_config(1, 28, 28, n_outputs=10)) if network == "resnet"
              else nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(),
                                 nn.Linear(128, 10)))
    config = LoopConfig(max_epochs=epochs, batch_size=64, learning_rate=learning_rate,
                        schedule="onecycle", device="cpu", patience=10)
    callbacks = [RuleWatch(mode="warn", report=found.append, where=network)] if watch else []
    trainer = Trainer(module, config, callbacks=callbacks)
    started = time.perf_counter()
    history = trainer.fit(TensorData((x[:n],), y[:n]), TensorData((x[n:],), y[n:]))
    return found, (time.perf_counter() - started) / max(1, history.epochs[-1].step)


def _text_run(texts: list[str], labels: np.ndarray, *, learning_rate: float = 3e-3
              ) -> list[Finding]:
    found: list[Finding] = []
    n = len(texts) - VALID_ROWS
    # as a search trial trains it: validation rows watched, early stopping (patience 3), so
    # the epoch rules see a validation loss and each class's recall
    model = NetworkModel(architecture="gru", task_kind="binary", n_classes=2, max_epochs=8,
                         learning_rate=learning_rate, patience=3, torch_threads=2)
    model.fit(texts[:n], labels[:n], eval_set=(texts[n:], labels[n:]),
              callbacks=[RuleWatch(mode="warn", report=found.append, where="gru")])
    return found


def _table_run(frame: pd.DataFrame, target: str, home: Path, name: str) -> list[Finding]:
    path = home / f"{name}.csv"
    frame.to_csv(path, index=False)
    heard: list[Finding] = []

    class Ear:
        def on_rule(self, finding: Finding) -> None:
            heard.append(finding)

    run_training(TrainConfig(data=str(path), target=target, trials=2, name=name),
                 workspace=Workspace(home / "ws"), observers=[Ear()])
    return heard


class Results:
    """Each run's findings and wall seconds, printed as they come."""

    def __init__(self) -> None:
        self.fired: dict[str, list[str]] = {}
        self.seconds: dict[str, float] = {}

    def run(self, name: str, job: Callable[[], list[Finding]]) -> None:
        started = time.perf_counter()
        found = job()
        self.fired[name] = [f.rule for f in found]
        self.seconds[name] = time.perf_counter() - started
        print(f"{name} ({self.seconds[name]:.0f} s): {len(found)} finding(s)", flush=True)
        for f in found:
            print(f"  {f}", flush=True)


def _image_section(results: Results, rng: np.random.Generator) -> None:
    pixels, labels = _images("mnist")
    pixels, labels = pixels[:IMAGE_ROWS + VALID_ROWS], labels[:IMAGE_ROWS + VALID_ROWS]

    def image(name: str, x: np.ndarray, y: np.ndarray, **options: float | bool | str) -> None:
        results.run(name, lambda: _image_run(x, y, **options)[0])  # type: ignore[arg-type]

    image("mnist healthy", pixels, labels)
    image("mnist lr=10", pixels, labels, learning_rate=10.0)
    image("mnist lr=1e-8", pixels, labels, learning_rate=1e-8)
    image("mnist shuffled labels", pixels, rng.permutation(labels))
    image("mnist unnormalised", pixels, labels, normalise=False)
    image("mnist mlp healthy", pixels, labels, network="mlp")
    image("mnist mlp unnormalised", pixels, labels, network="mlp", normalise=False)
    keep = (labels != 5) | (np.cumsum(labels == 5) % 8 == 0)  # one five in 8: ~9, spread out
    # six epochs: the rule waits until the validation loss stops falling, as a search trial
    # (early-stopped) reaches; in three the one-cycle schedule is still lowering it
    image("mnist minority 5", pixels[keep], labels[keep], epochs=6)
    fashion, fashion_labels = _images("fashion_mnist")
    image("fashion healthy", fashion[:IMAGE_ROWS + VALID_ROWS],
          fashion_labels[:IMAGE_ROWS + VALID_ROWS])


def _text_section(results: Results, rng: np.random.Generator) -> None:
    sms = pd.read_csv(DATA / "sms_spam/SMSSpamCollection.gz", sep="\t", header=None,
                      names=["label", "text"], quoting=3).sample(1000 + VALID_ROWS,
                                                                  random_state=0)
    texts, spam = sms["text"].astype(str).tolist(), (sms["label"] == "spam").to_numpy(np.int64)
    shuffled = rng.permutation(spam)
    results.run("sms healthy", lambda: _text_run(texts, spam))
    results.run("sms lr=10", lambda: _text_run(texts, spam, learning_rate=10.0))
    results.run("sms shuffled labels", lambda: _text_run(texts, shuffled))


def _bench(name: str) -> pd.DataFrame:
    return pd.read_csv(BENCH / f"{name}.csv.gz")


def _table_section(results: Results, rng: np.random.Generator) -> None:
    columns = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
               "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
               "hours_per_week", "native_country", "income"]
    adult = pd.read_csv(DATA / "adult/adult.data.gz", header=None, names=columns,
                        skipinitialspace=True).sample(3000, random_state=0)
    german = pd.read_csv(DATA / "german_credit/german.data.gz", sep=r"\s+", header=None)
    german.columns = [f"a{i}" for i in range(1, 21)] + ["credit"]
    tables = (
        ("demo credit_g healthy", pd.read_csv(ROOT / "examples/credit_g.csv"), "class"),
        ("bench pima_diabetes healthy", _bench("pima_diabetes"), "class"),
        ("bench vowel healthy", _bench("vowel"), "Class"),
        ("bench concrete healthy", _bench("concrete"), "compressive_strength"),
        ("adult healthy", adult, "income"),
        # a column known only with the answer: the tax band of the income being predicted
        ("adult leaking column", adult.assign(pays_tax_band=adult["income"]), "income"),
        ("german shuffled target",
         german.assign(credit=rng.permutation(german["credit"].to_numpy())), "credit"))
    with tempfile.TemporaryDirectory() as scratch:
        for name, frame, target in tables:
            results.run(name, lambda f=frame, t=target, n=name: _table_run(
                f, t, Path(scratch), n.replace(" ", "-")))


def main(argv: list[str]) -> None:
    sections = argv or list(SECTIONS)
    rng = np.random.default_rng(0)
    results = Results()
    began = time.perf_counter()
    for section, job in (("image", _image_section), ("text", _text_section),
                         ("tables", _table_section)):
        if section in sections:
            job(results, rng)
    if results.fired:
        _report(results)
    if "overhead" in sections:
        _overhead()
    print(f"\ntotal {time.perf_counter() - began:.0f} s")


def _report(results: Results) -> None:
    rules = list(ADVICE)
    print("\nrun x rule (F: fired; * marks a rule the run is meant to fire)\n")
    print("| run | " + " | ".join(rules) + " |\n|---|" + "---|" * len(rules))
    for name, fired in results.fired.items():
        cells = [("F" if rule in fired else "·") + ("*" if rule in EXPECTED[name] else "")
                 for rule in rules]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\n| run | meant to fire | fired | verdict | s |\n|---|---|---|---|---:|")
    false_alarms = []
    for name, fired in results.fired.items():
        expected = EXPECTED[name]
        missed, extra = expected - set(fired), set(fired) - expected
        verdict = "ok" if not missed and not extra else "; ".join(filter(None, [
            f"missed {', '.join(sorted(missed))}" if missed else "",
            f"also {', '.join(sorted(extra))}" if extra else ""]))
        if not expected and fired:
            false_alarms.append(f"{name}: {', '.join(fired)}")
        print(f"| {name} | {', '.join(sorted(expected)) or 'none (healthy)'} | "
              f"{', '.join(fired) or '—'} | {verdict} | {results.seconds[name]:.0f} |")
    print("\nfalse alarms on healthy runs:", "; ".join(false_alarms) or "none")


def _overhead() -> None:
    """Seconds per step of the healthy MNIST fit (one 10-step epoch, so the short-run watch
    samples steps 1, 5 and 10: the worst case), watched vs --rules off, 5 of each, interleaved
    so that the shared machine's load falls on both alike."""
    pixels, labels = _images("mnist")
    pixels, labels = pixels[:IMAGE_ROWS + VALID_ROWS], labels[:IMAGE_ROWS + VALID_ROWS]
    times: dict[str, list[float]] = {"rules off": [], "watched": []}
    for _ in range(OVERHEAD_REPEATS):
        for label, watch in (("rules off", False), ("watched", True)):
            times[label].append(_image_run(pixels, labels, watch=watch, epochs=1)[1])
    for label, runs in times.items():
        print(f"step time {label}: median {statistics.median(runs) * 1000:.0f} ms, fastest "
              f"{min(runs) * 1000:.0f} ms ({', '.join(f'{r * 1000:.0f}' for r in runs)})")
    for name, pick in (("median", statistics.median), ("fastest", min)):
        off, on = pick(times["rules off"]), pick(times["watched"])
        print(f"overhead of watching ({name}s): {100 * (on - off) / off:+.1f} % of a step")


if __name__ == "__main__":
    main(sys.argv[1:])
