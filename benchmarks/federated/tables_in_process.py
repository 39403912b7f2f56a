"""Federated networks on suite tables, the rounds run in one process: which strategy and local
step to make the default, without paying Flower's process per message.

Each holder is the very ``HolderRows`` a network federation's client runs (its table written,
read, checked, split and encoded by the same code, its ``fit`` the clients' local step); each
round is what the coordinator's Flower strategy does with the answers: the row-weighted
average (FedAvg), then for FedAvgM Flower's server step (``flwr.server.strategy.FedAvgM``:
momentum on the pseudo-gradient, the global weights minus the average). Only the transport is
left out. Seeded as ``federated simulate`` seeds it.

The centralised model is the one ``federated simulate`` reports beside the federation: the MLP
trained by the same local step on the pooled training rows from the same start, one pass per
round × local epoch (here a pass at a time, so its accuracy after every pass is recorded: the
shuffles differ from the platform's one call, the step does not); the linear model is the
catalog's, fitted to convergence.

    python benchmarks/federated/tables_in_process.py --validation          # choose on these
    python benchmarks/federated/tables_in_process.py --settings fedavgm-0.7  # report on these
    python benchmarks/federated/tables_in_process.py --tails   # the kept-model candidates

``--validation``: every holder holds out 20 % of its *training* rows and the figures are on
those; the held-out rows the platform reports on are not read. Each run also scores, after
10, 20 and 30 rounds, the candidates for the model a federation keeps at its end
(``tail_models``: the last round's or a mean of the last rounds' global weights); the
``-cos`` settings decay a step over the second half of the rounds instead. Results go to
``--out``/tables-in-process.jsonl, a line per run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_networks import TABLES
from table_holders import declared, federation, pooled_training_rows

from trainforge.evaluation.evaluate import evaluate
from trainforge.federated.centralised import centralised_model
from trainforge.federated.holder_rows import HolderRows
from trainforge.federated.kept_model import KeptModel
from trainforge.federated.linear import Weights
from trainforge.federated.local_step import train_locally
from trainforge.federated.networks import (
    build_network,
    encode,
    global_model,
    holder_preprocessor,
    initial_weights,
    load_weights,
    mlp_settings,
)
from trainforge.federated.plan import FederationPlan, averaged_from

# name: the strategy and local step, as FederationTraining's fields name them
SETTINGS: dict[str, dict[str, Any]] = {
    "fedavg-e2": {"strategy": "fedavg", "local_epochs": 2, "learning_rate": 0.1},
    "fedavg": {"strategy": "fedavg", "local_epochs": 1, "learning_rate": 0.1},
    "fedavgm-0.9": {"strategy": "fedavgm", "server_momentum": 0.9, "local_epochs": 1,
                    "learning_rate": 0.1},
    "fedavgm-0.7": {"strategy": "fedavgm", "server_momentum": 0.7, "local_epochs": 1,
                    "learning_rate": 0.1},
    "fedavgm-0.5": {"strategy": "fedavgm", "server_momentum": 0.5, "local_epochs": 1,
                    "learning_rate": 0.1},
    "fedavgm-0.7-e2-lr0.05": {"strategy": "fedavgm", "server_momentum": 0.7,
                              "local_epochs": 2, "learning_rate": 0.05},
    "fedavgm-0.9-lr0.05": {"strategy": "fedavgm", "server_momentum": 0.9, "local_epochs": 1,
                           "learning_rate": 0.05},
    "fedprox": {"strategy": "fedprox", "proximal_mu": 0.1, "local_epochs": 1,
                "learning_rate": 0.1},
    # the server's step decayed (cosine) over the second half of the rounds, to ~0 at the last
    "fedavgm-0.7-cos": {"strategy": "fedavgm", "server_momentum": 0.7, "local_epochs": 1,
                        "learning_rate": 0.1, "server_decay": "cosine"},
    # the holders' step decayed (cosine) over the second half, from 0.1 to 0.01
    "fedavgm-0.7-lrcos": {"strategy": "fedavgm", "server_momentum": 0.7, "local_epochs": 1,
                          "learning_rate": 0.1, "local_decay": "cosine"},
}
# the model kept at the end, made of the global weights of the rounds: each name's weights by
# round (1..R) for R rounds; "last" is the last round's global model
TAIL_ROUNDS = (10, 20, 30)


def plan_for(schema: Any, *, model: str, rounds: int, settings: dict[str, Any], seed: int
             ) -> FederationPlan:
    return FederationPlan(
        schema=schema, strategy=settings["strategy"], rounds=rounds, min_clients=10,
        proximal_mu=settings.get("proximal_mu", 0.0), local_epochs=settings["local_epochs"],
        batch_size=32, learning_rate=settings["learning_rate"], seed=seed, test_size=0.2,
        round_timeout_s=600.0, server_momentum=settings.get("server_momentum", 0.0),
        model=model, network=mlp_settings() if model == "mlp" else {})


def decay_factor(round_number: int, *, rounds: int, decay: str | None) -> float:
    """What a decayed step is multiplied by in a round: 1, or with ``decay="cosine"`` 1 for
    the first half of the rounds and a cosine from 1 towards 0 over the second."""
    half = rounds // 2
    if decay is None or round_number <= half:
        return 1.0
    return 0.5 * (1 + float(np.cos(np.pi * (round_number - half) / (rounds - half + 1))))


def tail_models(plan: FederationPlan, by_round: list[Weights], rounds: int
                ) -> dict[str, Weights]:
    """The candidates for the model a federation of ``rounds`` rounds keeps, from its global
    weights after each round: the last round's, uniform means over the second half (as SWA)
    and over the last quarter (the coordinator's own ``KeptModel``, as ``auto`` plans it), and
    an exponential mean (0.8) over the second half."""
    half = by_round[rounds // 2:rounds]
    kept = KeptModel(replace(plan, rounds=rounds, average_from=averaged_from(rounds)))
    for round_number, weights in enumerate(by_round[:rounds], start=1):
        kept.add(round_number, weights)
    ema = half[0]
    for weights in half[1:]:
        ema = [0.8 * e + 0.2 * w for e, w in zip(ema, weights, strict=True)]
    return {"last": by_round[rounds - 1], "avg-half": mean_weights(half),
            "avg-quarter": kept.weights(), "ema-0.8-half": ema}


def mean_weights(many: list[Weights]) -> Weights:
    return [np.mean([weights[k] for weights in many], axis=0) for k in range(len(many[0]))]


def coordinator_step(weights: Weights, answers: list[tuple[Weights, int]], *,
                     momentum: float, velocity: Weights | None,
                     server_rate: float = 1.0) -> tuple[Weights, Weights]:
    """Flower's FedAvg (momentum 0) or FedAvgM (server learning rate ``server_rate``): the
    new global weights and the momentum vector."""
    total = sum(n for _, n in answers)
    average = [sum(n * update[k] for update, n in answers) / total for k in range(len(weights))]
    pseudo_gradient = [w - a for w, a in zip(weights, average, strict=True)]
    if momentum > 0 and velocity is not None:
        pseudo_gradient = [momentum * v + g for v, g in zip(velocity, pseudo_gradient,
                                                            strict=True)]
    return ([w - server_rate * g for w, g in zip(weights, pseudo_gradient, strict=True)],
            pseudo_gradient)


class Scorer:
    """Accuracy of weights on every holder's held-out rows (a forward pass), and the task's
    metrics by trainforge's evaluation."""

    def __init__(self, plan: FederationPlan, held_out: pd.DataFrame) -> None:
        self.plan, self.held_out, self.module = plan, held_out, build_network(plan)
        self.inputs, self.targets = encode(held_out, plan, holder_preprocessor(plan))

    def accuracy(self, weights: Weights) -> float:
        with torch.inference_mode():
            outputs = load_weights(self.module, weights).eval()(self.inputs)
        return float((outputs.argmax(1) == self.targets).float().mean())

    def metrics(self, weights: Weights) -> dict[str, float]:
        return evaluate(global_model(weights, self.plan), self.held_out,
                        source="held-out").metrics


def federate(plan: FederationPlan, holders: list[HolderRows], scorer: Scorer, *,
             metric: str, server_decay: str | None = None, local_decay: str | None = None
             ) -> dict[str, Any]:
    weights, velocity = initial_weights(plan), None
    by_round, metrics, trajectory = [], {}, []
    for round_number in range(1, plan.rounds + 1):
        if local_decay:
            factor = max(decay_factor(round_number, rounds=plan.rounds, decay=local_decay), 0.1)
            for holder in holders:
                holder.plan = replace(plan, learning_rate=plan.learning_rate * factor)
        answers = [holder.fit(weights, round_number=round_number,
                              proximal_mu=plan.proximal_mu)[:2] for holder in holders]
        weights, velocity = coordinator_step(
            weights, answers, momentum=plan.server_momentum, velocity=velocity,
            server_rate=decay_factor(round_number, rounds=plan.rounds, decay=server_decay))
        trajectory.append(weights)
        by_round.append(round(scorer.accuracy(weights), 4))
        if round_number % 10 == 0 or round_number == plan.rounds:
            scored = scorer.metrics(weights)
            metrics[round_number] = {k: round(scored[k], 4) for k in ("accuracy", metric)}
    # a decayed step depends on the rounds planned: only the whole run's end is its own
    ends = [plan.rounds] if server_decay or local_decay else [r for r in TAIL_ROUNDS if r <= plan.rounds]
    tails = {end: {name: round(scorer.accuracy(kept), 4)
                   for name, kept in tail_models(plan, trajectory, end).items()}
             for end in ends}
    return {"accuracy_by_round": by_round, "metrics_at": metrics, "tails": tails}


def centralised(plan: FederationPlan, pooled: pd.DataFrame, scorer: Scorer, *,
                passes: int, metric: str) -> dict[str, Any]:
    """The centralised model after each pass (MLP), or the catalog's linear model."""
    if plan.model == "linear":
        scored = evaluate(centralised_model(plan, pooled), scorer.held_out,
                          source="held-out").metrics
        return {"metrics": {k: round(scored[k], 4) for k in ("accuracy", metric)}}
    inputs, targets = encode(pooled, plan, holder_preprocessor(plan))
    weights, module, by_pass, metrics = initial_weights(plan), build_network(plan), [], {}
    for done in range(1, passes + 1):
        weights = train_locally(module, weights, inputs, targets,
                                classification=plan.schema.task.kind.is_classification,
                                epochs=1, batch_size=plan.batch_size,
                                learning_rate=plan.learning_rate, proximal_mu=0.0,
                                seed=plan.seed + done).weights
        by_pass.append(round(scorer.accuracy(weights), 4))
        if done % 10 == 0:
            scored = scorer.metrics(weights)
            metrics[done] = {k: round(scored[k], 4) for k in ("accuracy", metric)}
    return {"accuracy_by_pass": by_pass, "metrics_at": metrics}


def run_table(name: str, alpha: float, args: argparse.Namespace, scratch: Path) -> None:
    frame, schema, source = declared(name, args.out)
    metric = schema.task.metric
    base = plan_for(schema, model=args.model, rounds=args.rounds, settings=SETTINGS["fedavg"],
                    seed=0)
    split = federation(plan=base, frame=frame, source=source, alpha=alpha,
                       clients=args.clients, scratch=scratch, validation=args.validation)
    rows = {"table": name, "alpha": alpha, "model": args.model, "metric": metric,
            "validation": args.validation, "rounds": args.rounds,
            "holders_rows": [h.n_rows for h in split.holders]}
    for seed in args.seeds:
        centrals: dict[float, dict[str, Any]] = {}
        for label in args.settings:
            plan = plan_for(schema, model=args.model, rounds=args.rounds,
                            settings=SETTINGS[label], seed=seed)
            holders = [HolderRows(plan, table, name=f"client-{i}")
                       for i, table in enumerate(split.tables)]
            scorer = Scorer(plan, pd.concat([h.held_out for h in holders]))
            started = time.perf_counter()
            result = federate(plan, holders, scorer, metric=metric,
                              server_decay=SETTINGS[label].get("server_decay"),
                              local_decay=SETTINGS[label].get("local_decay"))
            if plan.learning_rate not in centrals:
                centrals[plan.learning_rate] = centralised(
                    plan, pooled_training_rows(plan, split.tables), scorer,
                    passes=args.rounds * max(s["local_epochs"] for s in SETTINGS.values()),
                    metric=metric)
            row = {**rows, "settings": label, **SETTINGS[label], "seed": seed, **result,
                   "centralised": centrals[plan.learning_rate],
                   "seconds": round(time.perf_counter() - started, 1)}
            with (args.out / "tables-in-process.jsonl").open("a") as results:
                results.write(json.dumps(row) + "\n")
            print(json.dumps({k: row[k] for k in ("table", "alpha", "settings", "seed",
                                                  "metrics_at", "seconds")}), flush=True)


def summary(results: Path, *, last: int, at: int) -> None:
    """Per table, α and settings: the federated accuracy over the ``last`` rounds up to round
    ``at`` (0: its last) and the centralised one over the same passes, each averaged over
    rounds and seeds, and the gap."""
    runs: dict[tuple[str, float, str], list[tuple[float, float]]] = {}
    for line in results.read_text().splitlines():
        row = json.loads(line)
        end = at or len(row["accuracy_by_round"])
        federated = row["accuracy_by_round"][end - last:end]
        central = row["centralised"]
        epochs = row["local_epochs"]
        if "accuracy_by_pass" in central:
            rounds = range(end - last + 1, end + 1)
            pooled = [central["accuracy_by_pass"][r * epochs - 1] for r in rounds]
        else:
            pooled = [central["metrics"]["accuracy"]]
        runs.setdefault((row["table"], row["alpha"], row["settings"]), []).append(
            (float(np.mean(federated)), float(np.mean(pooled))))
    for (table, alpha, label), pairs in runs.items():
        federated, central = (float(np.mean(values)) for values in zip(*pairs, strict=True))
        print(f"{table:12} α={alpha:<4g} {label:24} seeds {len(pairs)}: federated "
              f"{federated:.4f}, centralised {central:.4f}, "
              f"{100 * (federated - central):+.1f} points")


def tails_summary(results: Path) -> None:
    """Per table, α, settings and rounds R: the accuracy of each candidate for the kept model
    (``tail_models``), averaged over the seeds, its spread over the seeds, and the points to
    the centralised MLP after as many passes (averaged over the same seeds)."""
    runs: dict[tuple[str, float, str, int], list[dict[str, float]]] = {}
    for line in results.read_text().splitlines():
        row = json.loads(line)
        passes = row["centralised"].get("accuracy_by_pass")
        for end, kept in row.get("tails", {}).items():
            end = int(end)
            window = row["accuracy_by_round"][end - 5:end]
            central = (passes[end * row["local_epochs"] - 1] if passes
                       else row["centralised"]["metrics"]["accuracy"])
            runs.setdefault((row["table"], row["alpha"], row["settings"], end), []).append(
                {**kept, "last-5-mean": float(np.mean(window)), "centralised": central})
    for (table, alpha, label, end), seeds in sorted(runs.items()):
        central = float(np.mean([s["centralised"] for s in seeds]))
        cells = []
        for name in ("last", "last-5-mean", "avg-half", "avg-quarter", "ema-0.8-half"):
            if name in seeds[0]:
                values = [s[name] for s in seeds]
                cells.append(f"{name} {np.mean(values):.4f} ({100 * (np.mean(values) - central):+.1f}"
                             f", sd {100 * np.std(values):.1f})")
        print(f"{table:12} α={alpha:<4g} {label:18} R={end:<3} seeds {len(seeds)}: "
              + "; ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/federated-tables"))
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.5])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--model", default="mlp", choices=["mlp", "linear"])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="the plan's seeds (the network's start, the shuffles and each "
                             "holder's split; the partition is seed 0's)")
    parser.add_argument("--summary", type=int, default=0, metavar="LAST",
                        help="only summarise --out's results over their LAST rounds")
    parser.add_argument("--at", type=int, default=0,
                        help="with --summary: the round the window ends at (0: the last)")
    parser.add_argument("--tails", action="store_true",
                        help="only summarise --out's results' kept-model candidates")
    parser.add_argument("--validation", action="store_true",
                        help="score on a validation share of the holders' training rows")
    args = parser.parse_args()
    if args.tails:
        tails_summary(args.out / "tables-in-process.jsonl")
        return
    if args.summary:
        summary(args.out / "tables-in-process.jsonl", last=args.summary, at=args.at)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    for name in args.tables:
        for alpha in args.alphas:
            with tempfile.TemporaryDirectory(prefix="tables-in-process-") as scratch:
                run_table(name, alpha, args, Path(scratch))


if __name__ == "__main__":
    main()
