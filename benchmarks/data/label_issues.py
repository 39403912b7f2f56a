"""Label issues: how well flipped labels are found, and what dropping them does to the test score.

    PYTHONPATH=src python benchmarks/data/label_issues.py [--tables credit_g vowel satimage]
        [--rates 0.05 0.10] [--trials 2] [--seed 0] [--out results.json]

For each table of ``../shared/bench/data``: a stratified 80/20 split (seed 0). The 20 % is the
outer test set and keeps its TRUE labels. In the 80 %, a share RATE of the rows gets its label
moved to another class drawn at random (seeded). trainforge trains on that 80 % file, with the
same seed and ``--trials N`` (the same search on any machine; 2 by default: the portfolio's
LightGBM and linear model, blended), three ways:

- ``clean``: the 80 % with its true labels (the ceiling);
- ``keep``: the noisy 80 %, ``--label-issues keep`` (the model learns from every row);
- ``drop``: the noisy 80 %, ``--label-issues drop`` (the flagged rows are left out).

Each registered model is scored on the outer test set with the task's metric (ROC-AUC for
binary, balanced accuracy for multiclass). Inside ``train``, the 80 % file is split again
(its own 20 % test split, never checked); the rows checked are the other 80 % of it, and
precision and recall of the flagged rows are counted there: recall = flipped rows flagged /
flipped rows checked, precision = flipped rows flagged / rows flagged.

On code without ``--label-issues`` (the original), only ``clean`` and ``keep`` run: the scores
a run gets without any handling of label issues.
"""

from __future__ import annotations

import argparse
import inspect
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split

import trainforge as tf
from trainforge.data.read import read_table
from trainforge.data.splits import train_test_split as inner_split
from trainforge.data.targets import clean_target, infer_task
from trainforge.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT.parent / "shared" / "bench"
HAS_LABEL_ISSUES = "label_issues" in inspect.signature(tf.train).parameters


def load(name: str) -> tuple[pd.DataFrame, str, str]:
    suite = json.loads((BENCH / "suite.json").read_text())
    entry = next(d for d in suite["datasets"] if d["name"] == name)
    frame = pd.read_csv(BENCH / entry["path"])
    frame = frame.loc[frame[entry["target"]].notna()].reset_index(drop=True)
    frame[entry["target"]] = frame[entry["target"]].astype(str)
    return frame, entry["target"], entry["task"]


def flip(labels: pd.Series, rate: float, seed: int) -> tuple[pd.Series, set[int]]:
    """``labels`` with a share ``rate`` of them moved to another class (at random)."""
    rng = np.random.default_rng(seed)
    classes = sorted(labels.unique())
    chosen = rng.choice(len(labels), size=round(rate * len(labels)), replace=False)
    noisy = labels.copy()
    for position in chosen:
        others = [c for c in classes if c != labels.iloc[position]]
        noisy.iloc[position] = others[rng.integers(len(others))]
    return noisy, {int(p) for p in chosen}


def checked_rows(path: Path, target: str, seed: int) -> set[int]:
    """The rows of ``path`` that train's own split leaves for the search (those checked)."""
    source = read_table(str(path))
    task = infer_task(source, target)
    frame, _ = clean_target(source, task)
    train, _ = inner_split(frame, task, test_size=0.2, seed=seed)
    return {int(i) for i in train.index}


def outer_score(model: Any, test: pd.DataFrame, target: str, kind: str) -> float:
    proba = model.predict_proba(test.drop(columns=[target]))
    classes = [str(c) for c in proba.columns]
    truth = test[target].to_numpy()
    if kind == "binary":
        return float(roc_auc_score(truth == classes[1], proba[classes[1]].to_numpy()))
    predicted = np.asarray(classes)[np.argmax(proba.to_numpy(), axis=1)]
    return float(balanced_accuracy_score(truth, predicted))


def train(path: Path, target: str, action: str | None, *, trials: int, seed: int,
          workspace: Workspace, name: str) -> tuple[Any, float]:
    options: dict[str, Any] = {} if action is None else {"label_issues": action}
    started = time.perf_counter()
    model = tf.train(path, target=target, trials=trials, seed=seed, workspace=workspace,
                     name=name, **options)
    return model, time.perf_counter() - started


def run_table(name: str, *, rates: list[float], trials: int, seed: int,
              folder: Path) -> list[dict[str, Any]]:
    frame, target, kind = load(name)
    learn, test = train_test_split(frame, test_size=0.2, random_state=0,
                                   stratify=frame[target])
    learn, test = learn.reset_index(drop=True), test.reset_index(drop=True)
    workspace = Workspace(folder / name / "home")
    rows: list[dict[str, Any]] = []
    clean_path = folder / name / "clean.csv"
    learn.to_csv(clean_path, index=False)
    model, seconds = train(clean_path, target, None, trials=trials, seed=seed,
                           workspace=workspace, name=f"{name}-clean")
    rows.append({"table": name, "rate": 0.0, "run": "clean", "seconds": round(seconds, 1),
                 "test_score": outer_score(model, test, target, kind)})
    for rate in rates:
        noisy, flipped = flip(learn[target], rate, seed)
        path = folder / name / f"noisy-{rate:g}.csv"
        learn.assign(**{target: noisy}).to_csv(path, index=False)
        checked = checked_rows(path, target, seed)
        for action in (["keep", "drop"] if HAS_LABEL_ISSUES else [None]):
            model, seconds = train(path, target, action, trials=trials, seed=seed,
                                   workspace=workspace, name=f"{name}-{rate:g}-{action}")
            row: dict[str, Any] = {"table": name, "rate": rate, "run": action or "keep",
                                   "seconds": round(seconds, 1),
                                   "test_score": outer_score(model, test, target, kind)}
            if action is not None:
                row |= detection(model, flipped & checked, n_checked=len(checked))
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def detection(model: Any, flipped: set[int], *, n_checked: int) -> dict[str, Any]:
    entry = model.loaded.manifest["lineage"]["label_issues"]
    found = json.loads((model.loaded.path / "label-issues.json").read_text())
    flagged = {int(issue["row"]) for issue in found["issues"]}
    hits = len(flagged & flipped)
    return {"n_checked": entry["n_checked"], "expected_checked": n_checked,
            "n_flipped": len(flipped), "n_flagged": len(flagged),
            "n_dropped": entry["n_dropped"], "precision": hits / max(1, len(flagged)),
            "recall": hits / max(1, len(flipped))}


def print_table(rows: list[dict[str, Any]]) -> None:
    print("\ntable        rate  run    test    flagged  precision  recall   seconds")
    for row in rows:
        print(f"{row['table']:<12} {row['rate']:>4.0%}  {row['run']:<5}  "
              f"{row['test_score']:.4f}  {row.get('n_flagged', ''):>7}  "
              f"{row.get('precision', float('nan')):>9.3f}  {row.get('recall', float('nan')):>6.3f}"
              f"  {row['seconds']:>7.1f}")
    drops = [r for r in rows if r["run"] == "drop"]
    if drops:
        print(f"\nmedian precision {statistics.median(r['precision'] for r in drops):.3f}, "
              f"median recall {statistics.median(r['recall'] for r in drops):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=["credit_g", "vowel", "satimage"])
    parser.add_argument("--rates", nargs="+", type=float, default=[0.05, 0.10])
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    arguments = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="label-issues-bench-") as scratch:
        for name in arguments.tables:
            (Path(scratch) / name).mkdir()
            rows += run_table(name, rates=arguments.rates, trials=arguments.trials,
                              seed=arguments.seed, folder=Path(scratch))
    print_table(rows)
    if arguments.out is not None:
        arguments.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
