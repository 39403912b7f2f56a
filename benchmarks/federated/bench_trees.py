"""Trees bagged across holders, the rounds run in one process: the figures of the model, and
which aggregation to use, without paying Flower's process per message.

Each holder is the very ``TreeRows`` a tree federation's client runs (its own table written as
a simulated holder's is, read, checked, split and encoded by the same code), and each round is
what the coordinator's ``TreeBagging`` does with their answers (``trees.aggregate``); only the
transport is left out. The rounds' arithmetic is the federation's: seeded partition, split
and boosting, so `trainforge federated simulate --model xgboost` with the same settings
gives the same model to float rounding (the order the holders' trees arrive in can differ).

    python benchmarks/federated/bench_trees.py --alphas 0.5 0.1
    python benchmarks/federated/bench_trees.py --aggregation sum cyclic   # the alternatives
    python benchmarks/federated/bench_trees.py --validation --aggregation rows hessian

``--aggregation``: ``hessian`` (the default, as the coordinator aggregates) and ``rows`` are
trainforge's (``trees.aggregate``: each tree scaled by its share of the round's hessian for its
iteration and class, or a holder's leaf values by its share of the round's rows); ``sum`` is Flower's ``FedXgbBagging`` (every holder's
trees appended as they are); ``cyclic`` is Flower's ``FedXgbCyclic`` (one holder a round, in
turn, its trees appended as they are; ``--rounds`` then counts single-holder rounds).

``--validation``: every holder holds out 20 % of its *training* rows and the figures are on
those (settings are chosen there); without it, on the held-out rows the platform reports on.
The per-round accuracy is the booster's on every holder's held-out rows; the final figures are
trainforge's evaluation of the registered model.

Results go to ``--out``/results.jsonl, a line per run. The tables are ../shared/bench's.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_networks import ISSUE_TABLES, TABLES
from table_holders import declared, federation, pooled_training_rows

from trainforge.evaluation.evaluate import evaluate
from trainforge.federated import linear, trees
from trainforge.federated.centralised import centralised_model
from trainforge.federated.plan import TREE_STRATEGY, FederationPlan
from trainforge.federated.tree_rows import TreeRows


def accuracy(weights: trees.Weights, inputs: np.ndarray, labels: np.ndarray) -> float:
    """The booster's accuracy on encoded rows (the per-round curve; the final figures are
    trainforge's evaluation)."""
    predicted = trees.load_booster(weights).predict(xgb.DMatrix(inputs, nthread=1))
    classes = predicted.argmax(1) if predicted.ndim == 2 else (predicted > 0.5).astype(int)
    return float((classes == labels).mean())


def federate(plan: FederationPlan, holders: list[TreeRows], *, aggregation: str
             ) -> tuple[trees.Weights, list[dict[str, Any]]]:
    """The plan's rounds over ``holders``; the global booster and a record per round."""
    weights = trees.initial_weights(plan)
    held_out = pd.concat([holder.held_out for holder in holders])
    inputs = linear.encode(held_out, plan.schema, holders[0].preprocessor)[0]
    labels = trees.targets(held_out, plan.schema)
    rounds = []
    for round_number in range(1, plan.rounds + 1):
        started = time.perf_counter()
        asked = ([holders[(round_number - 1) % len(holders)]] if aggregation == "cyclic"
                 else holders)
        answers = [(holder.fit(weights, round_number=round_number)[:2]) for holder in asked]
        if aggregation in trees.TREE_WEIGHTINGS:
            weights = trees.aggregate(weights, answers, weighting=aggregation)
        else:  # Flower's own: each holder's trees appended unscaled
            for added, _ in answers:
                weights = trees.aggregate(weights, [(added, 1)])
        rounds.append({"round": round_number, "fit_s": time.perf_counter() - started,
                       "accuracy": round(accuracy(weights, inputs, labels), 4),
                       "bytes_down": int(weights[0].nbytes),
                       "bytes_up": sum(int(a[0].nbytes) for a, _ in answers) / len(answers)})
    return weights, rounds


def run(name: str, *, alpha: float, aggregation: str, args: argparse.Namespace,
        scratch: Path) -> dict[str, Any]:
    frame, schema, source = declared(name, args.out)
    plan = FederationPlan(schema=schema, strategy=TREE_STRATEGY, rounds=args.rounds,
                          min_clients=args.clients, proximal_mu=0.0,
                          local_epochs=args.local_epochs, batch_size=32,
                          learning_rate=args.learning_rate, seed=0, test_size=0.2,
                          round_timeout_s=600.0, model="xgboost")
    split = federation(plan=plan, frame=frame, source=source, alpha=alpha,
                       clients=args.clients, scratch=scratch, validation=args.validation)
    holders = [TreeRows(plan, table, name=h.name) for h, table in zip(split.holders, split.tables)]
    started = time.perf_counter()
    weights, rounds = federate(plan, holders, aggregation=aggregation)
    federate_s = time.perf_counter() - started
    held_out = pd.concat([h.held_out for h in holders])
    pooled = pooled_training_rows(plan, split.tables)
    federated = evaluate(trees.global_model(weights, plan), held_out, source="held-out").metrics
    centralised = evaluate(centralised_model(plan, pooled), held_out, source="held-out").metrics
    metric = schema.task.metric
    row = {"table": name, "alpha": alpha, "aggregation": aggregation, "clients": args.clients,
           "rounds": args.rounds, "local_epochs": args.local_epochs,
           "learning_rate": args.learning_rate, "metric": metric,
           "validation": args.validation,
           "holders_rows": [h.n_rows for h in split.holders],
           "federated": {k: round(federated[k], 4) for k in ("accuracy", metric)},
           "centralised": {k: round(centralised[k], 4) for k in ("accuracy", metric)},
           "accuracy_by_round": [r["accuracy"] for r in rounds],
           "fit_s_by_round": [r["fit_s"] for r in rounds],
           "bytes_down_by_round": [r["bytes_down"] for r in rounds],
           "bytes_up_by_round": [r["bytes_up"] for r in rounds], "federate_s": federate_s}
    with (args.out / "results.jsonl").open("a") as results:
        results.write(json.dumps(row) + "\n")
    print(json.dumps({k: row[k] for k in ("table", "alpha", "aggregation", "rounds",
                                          "local_epochs", "learning_rate", "federated",
                                          "centralised", "federate_s")}), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/federated-trees"))
    parser.add_argument("--tables", nargs="+", default=ISSUE_TABLES, choices=list(TABLES))
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.5, 0.1])
    parser.add_argument("--aggregation", nargs="+", default=["hessian"],
                        choices=[*trees.TREE_WEIGHTINGS, "sum", "cyclic"])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--local-epochs", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=0.3)
    parser.add_argument("--validation", action="store_true",
                        help="score on a validation share of the holders' training rows")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.tables:
        for alpha in args.alphas:
            for aggregation in args.aggregation:
                with tempfile.TemporaryDirectory(prefix="bench-trees-") as scratch:
                    run(name, alpha=alpha, aggregation=aggregation, args=args,
                        scratch=Path(scratch))


if __name__ == "__main__":
    main()
