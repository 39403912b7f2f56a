"""One metric registry: do the search and the evaluation agree, and does a fast path pay?

    PYTHONPATH=src python benchmarks/security/bench_metrics.py            # ~1 minute
    PYTHONPATH=src python benchmarks/security/bench_metrics.py --repeats 3

Uses only entry points that exist before and after the registry (``scorer_for`` of the
search, ``evaluate_predictions`` of the evaluation, ``choose_metric`` of task inference), so
the same script measures both. It prints:

1. metrics ``choose_metric`` accepts that the search cannot score (each one starts a run
   that then fails);
2. for every metric both sides know, the largest difference between the search's score and
   the evaluation's on the same seeded predictions, and the edge cases of issue #11
   (constant target, rows not summing to 1, one class present, zeros in the truth);
3. the seconds the search's inner loop, greedy ensemble selection (20 kept candidates x 30
   rounds, as ``automl.KEEP_CANDIDATES``), spends scoring, with the search's scorer and with
   one plain ``sklearn.metrics`` call per score, at 800 rows (credit-g's training split) and
   20,000 rows: the figure that decides whether a hand-written fast path is kept.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np
from sklearn import metrics as skm

from trainforge.data.task import Task, TaskKind, choose_metric
from trainforge.errors import UnknownMetric
from trainforge.evaluation.evaluate import evaluate_predictions
from trainforge.training.ensemble import greedy_selection
from trainforge.training.scoring import scorer_for

KINDS = (TaskKind.BINARY, TaskKind.MULTICLASS, TaskKind.REGRESSION)
CANDIDATE_METRICS = ("roc_auc", "pr_auc", "accuracy", "balanced_accuracy", "f1", "f1_macro",
                     "f1_weighted", "log_loss", "r2", "rmse", "mae", "mape")


def accepted(kind: TaskKind) -> list[str]:
    names = []
    for name in CANDIDATE_METRICS:
        try:
            names.append(choose_metric(kind, name))
        except UnknownMetric:
            pass
    return names


def search_score(name: str, kind: TaskKind, y: np.ndarray, output: np.ndarray) -> float | None:
    try:
        return scorer_for(name, kind).score(y, output)
    except UnknownMetric:
        return None


def evaluation_score(name: str, kind: TaskKind, y: np.ndarray, output: np.ndarray,
                     classes: tuple[str, ...]) -> float:
    task = Task(target="y", kind=kind, metric=name, classes=classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return evaluate_predictions(task, y, output).metrics.get(name, math.nan)


def sample(kind: TaskKind, n_rows: int, seed: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    rng = np.random.default_rng(seed)
    if kind is TaskKind.REGRESSION:
        y = rng.normal(10.0, 3.0, n_rows)
        return y, y + rng.normal(0.0, 2.0, n_rows), ()
    k = 2 if kind is TaskKind.BINARY else 3
    y = rng.integers(0, k, n_rows)
    proba = rng.dirichlet(np.ones(k), n_rows)
    proba[np.arange(n_rows), y] += 0.4
    proba = np.round(proba / proba.sum(axis=1, keepdims=True), 2)  # rounded: ties, and rows
    proba[:, -1] = 1.0 - proba[:, :-1].sum(axis=1)                 # that still sum to 1
    return y, proba, tuple(f"c{c}" for c in range(k))


def report_acceptance() -> None:
    print("## 1. accepted by choose_metric, unknown to the search")
    y_small = {kind: sample(kind, 50, 0) for kind in KINDS}
    for kind in KINDS:
        y, output, _ = y_small[kind]
        broken = [n for n in accepted(kind) if search_score(n, kind, y, output) is None]
        print(f"  {kind.value:<10} accepts {len(accepted(kind)):>2}; search cannot score "
              f"{len(broken)}: {', '.join(broken) or '-'}")


def report_agreement() -> None:
    print("## 2. search vs evaluation on the same predictions (max |difference|)")
    for kind in KINDS:
        y, output, classes = sample(kind, 800, 1)
        for name in accepted(kind):
            searched = search_score(name, kind, y, output)
            if searched is None:
                continue
            evaluated = evaluation_score(name, kind, y, output, classes)
            print(f"  {kind.value:<10} {name:<18} {abs(searched - evaluated):.1e}")
    edge_cases: list[tuple[str, str, TaskKind, np.ndarray, np.ndarray, tuple[str, ...]]] = [
        ("r2, constant truth", "r2", TaskKind.REGRESSION, np.full(4, 3.0),
         np.array([3.0, 2.0, 3.0, 4.0]), ()),
        ("log_loss, rows summing to 0.5", "log_loss", TaskKind.BINARY, np.array([0, 1, 1, 0]),
         np.array([[0.3, 0.2], [0.1, 0.4], [0.25, 0.25], [0.4, 0.1]]), ("a", "b")),
        ("roc_auc, one class present", "roc_auc", TaskKind.BINARY, np.ones(3, dtype=int),
         np.array([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]]), ("a", "b")),
        ("balanced_accuracy, one class", "balanced_accuracy", TaskKind.BINARY,
         np.ones(3, dtype=int), np.array([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]]), ("a", "b")),
        ("mape, a zero in the truth", "mape", TaskKind.REGRESSION, np.array([0.0, 10.0, 20.0]),
         np.array([5.0, 11.0, 18.0]), ()),
    ]
    print("  edge case                        search        evaluation")
    for label, name, kind, y, output, classes in edge_cases:
        searched = search_score(name, kind, y, output)
        shown = "unknown" if searched is None else f"{searched:.6g}"
        print(f"  {label:<32} {shown:<13} {evaluation_score(name, kind, y, output, classes):.6g}")


def _plain_sklearn(name: str) -> Callable[[np.ndarray, np.ndarray], float]:
    """The metric as one plain sklearn.metrics call: the cost a fast path is weighed against."""
    labels = {"accuracy": skm.accuracy_score, "balanced_accuracy": skm.balanced_accuracy_score,
              "f1": skm.f1_score,
              "f1_macro": lambda y, p: skm.f1_score(y, p, average="macro"),
              "f1_weighted": lambda y, p: skm.f1_score(y, p, average="weighted")}
    if name in labels:
        return lambda y, p: float(labels[name](y, p.argmax(axis=1)))
    return {"roc_auc": lambda y, p: skm.roc_auc_score(y, p[:, 1]),
            "pr_auc": lambda y, p: skm.average_precision_score(y, p[:, 1]),
            "log_loss": lambda y, p: skm.log_loss(y, p, labels=[0, 1]),
            "r2": skm.r2_score, "rmse": skm.root_mean_squared_error,
            "mae": skm.mean_absolute_error,
            "mape": skm.mean_absolute_percentage_error}[name]


def _seconds_per_call(function: Callable[[np.ndarray, np.ndarray], float], y: np.ndarray,
                      output: np.ndarray, repeats: int) -> float:
    function(y, output)  # imports, caches
    batches = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(20):
            function(y, output)
        batches.append((time.perf_counter() - started) / 20)
    return statistics.median(batches)


# greedy selection's scores per search: 20 kept candidates x 30 rounds, plus the 20 singles
ENSEMBLE_SCORES = 20 * 30 + 20


def report_inner_loop(repeats: int) -> None:
    print(f"## 3. seconds for the {ENSEMBLE_SCORES} scores of greedy ensemble selection "
          f"(per-call median of {repeats}x20 calls, x{ENSEMBLE_SCORES})")
    print("  metric              rows   search scorer   plain sklearn.metrics")
    for name in CANDIDATE_METRICS:
        kind = TaskKind.REGRESSION if name in ("r2", "rmse", "mae", "mape") else TaskKind.BINARY
        for n_rows in (800, 20_000):
            y, output, _ = sample(kind, n_rows, 2)
            try:
                scorer = scorer_for(name, kind)
            except UnknownMetric:
                search = f"{'unknown':>13}"
            else:
                seconds = ENSEMBLE_SCORES * _seconds_per_call(scorer.score, y, output, repeats)
                search = f"{seconds:>13.3f}"
            plain = ENSEMBLE_SCORES * _seconds_per_call(_plain_sklearn(name), y, output, repeats)
            print(f"  {name:<18} {n_rows:>6}  {search}  {plain:>14.3f}")
    print("  check, a real greedy_selection at 800 rows with the search scorer:")
    for name, kind in [("roc_auc", TaskKind.BINARY), ("r2", TaskKind.REGRESSION)]:
        y, _, _ = sample(kind, 800, 2)
        candidates = [sample(kind, 800, seed)[1] for seed in range(3, 23)]
        seconds = []
        for _ in range(repeats):
            started = time.perf_counter()
            greedy_selection(candidates, y, scorer_for(name, kind))
            seconds.append(time.perf_counter() - started)
        print(f"  {name:<18} {statistics.median(seconds):.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    report_acceptance()
    report_agreement()
    report_inner_loop(args.repeats)


if __name__ == "__main__":
    main()
