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

``--aggregation``: ``weighted`` is trainforge's (leaf values scaled by the holder's share of
the round's rows); ``sum`` is Flower's ``FedXgbBagging`` (every holder's trees appended as
they are); ``cyclic`` is Flower's ``FedXgbCyclic`` (one holder a round, in turn, its trees
appended as they are; ``--rounds`` then counts single-holder rounds).

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

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_networks import TABLES, bench_table

from trainforge.data.declared_schema import declare_schema
from trainforge.data.read import read_table
from trainforge.data.targets import clean_target, feature_columns, infer_task
from trainforge.evaluation.evaluate import evaluate
from trainforge.federated import trees
from trainforge.federated.centralised import centralised_model
from trainforge.federated.holder_split import holder_split
from trainforge.federated.holder_tables import write_holder_table
from trainforge.federated.partition import parse_scheme, partition
from trainforge.federated.plan import TREE_STRATEGY, FederationPlan
from trainforge.federated.tree_rows import TreeRows


def federate(plan: FederationPlan, holders: list[TreeRows], *, aggregation: str
             ) -> tuple[trees.Weights, list[dict[str, Any]]]:
    """The plan's rounds over ``holders``; the global booster and a record per round."""
    weights = trees.initial_weights(plan)
    rounds = []
    for round_number in range(1, plan.rounds + 1):
        started = time.perf_counter()
        asked = ([holders[(round_number - 1) % len(holders)]] if aggregation == "cyclic"
                 else holders)
        answers = [(holder.fit(weights, round_number=round_number)[:2]) for holder in asked]
        if aggregation == "weighted":
            weights = trees.aggregate(weights, answers)
        else:  # Flower's own: each holder's trees appended unscaled
            for added, _ in answers:
                weights = trees.aggregate(weights, [(added, 1)])
        fit_s = time.perf_counter() - started
        scores = [holder.evaluate(weights) for holder in holders]
        total = sum(n for _, n, _ in scores)
        rounds.append({"round": round_number, "fit_s": fit_s,
                       "accuracy": sum(n * m["accuracy"] for _, n, m in scores) / total,
                       "bytes_down": int(weights[0].nbytes),
                       "bytes_up": sum(int(a[0].nbytes) for a, _ in answers) / len(answers)})
    return weights, rounds


def run(name: str, *, alpha: float, aggregation: str, args: argparse.Namespace,
        scratch: Path) -> dict[str, Any]:
    dataset = read_table(bench_table(name, args.out))
    task = infer_task(dataset, TABLES[name])
    frame, _ = clean_target(dataset, task)
    features = feature_columns(dataset.schema, task.target, frame=frame, source=dataset.source)
    schema = declare_schema(frame, task, schema=dataset.schema, features=features, notes=[])
    plan = FederationPlan(schema=schema, strategy=TREE_STRATEGY, rounds=args.rounds,
                          min_clients=args.clients, proximal_mu=0.0,
                          local_epochs=args.local_epochs, batch_size=32,
                          learning_rate=args.learning_rate, seed=0, test_size=0.2,
                          round_timeout_s=600.0, model="xgboost")
    split = partition(frame, task, n_clients=args.clients,
                      scheme=parse_scheme(f"dirichlet:{alpha:g}"), seed=0,
                      source=dataset.source)
    holders = [TreeRows(plan, write_holder_table(frame.iloc[h.rows], scratch / h.name,
                                                 image_column=None), name=h.name)
               for h in split]
    started = time.perf_counter()
    weights, rounds = federate(plan, holders, aggregation=aggregation)
    federate_s = time.perf_counter() - started
    held_out = pd.concat([h.held_out for h in holders])
    # each holder's training rows, split again as its client split them
    pooled = pd.concat([holder_split(plan, scratch / h.name / "table.parquet")[0]
                        for h in split])
    federated = evaluate(trees.global_model(weights, plan), held_out, source="held-out").metrics
    centralised = evaluate(centralised_model(plan, pooled), held_out, source="held-out").metrics
    metric = task.metric
    row = {"table": name, "alpha": alpha, "aggregation": aggregation, "clients": args.clients,
           "rounds": args.rounds, "local_epochs": args.local_epochs,
           "learning_rate": args.learning_rate, "metric": metric,
           "holders_rows": [h.n_rows for h in split],
           "federated": {k: federated.get(k) for k in ("accuracy", metric)},
           "centralised": {k: centralised.get(k) for k in ("accuracy", metric)},
           "accuracy_by_round": [r["accuracy"] for r in rounds],
           "fit_s_by_round": [r["fit_s"] for r in rounds],
           "bytes_down_by_round": [r["bytes_down"] for r in rounds],
           "bytes_up_by_round": [r["bytes_up"] for r in rounds], "federate_s": federate_s}
    with (args.out / "results.jsonl").open("a") as results:
        results.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/federated-trees"))
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.5, 0.1])
    parser.add_argument("--aggregation", nargs="+", default=["weighted"],
                        choices=["weighted", "sum", "cyclic"])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--local-epochs", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=0.3)
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
