"""Federated networks against centralised training on the same rows, and central DP on MNIST.

Each run is one `trainforge federated simulate` (the SDK call the CLI makes): a Flower
coordinator and a client process per holder from Flower's virtualenv over gRPC on 127.0.0.1.
It scores the registered model (the global model after the last round or, with ``--strategy
auto`` from 20 rounds on, the mean of the last quarter's) and the same model trained centrally
on the union of the holders' training rows (the clients' own local step, as many passes over the
pooled rows as each holder made over its own) on the same rows: every holder's held-out 20 %.

    python benchmarks/federated/bench_networks.py mnist --alphas 0.5 0.1
    python benchmarks/federated/bench_networks.py tables --alphas 0.5 0.1
    python benchmarks/federated/bench_networks.py tables --model xgboost --rounds 5 \
        --local-epochs 4 --learning-rate 0.3
    python benchmarks/federated/bench_networks.py dp --epsilons 1 3 8

- ``mnist``: the 10,000 MNIST test images from ../shared/data (written once as PNG class
  folders by benchmarks/images/materialise.py's reader), 10 holders at Dirichlet α, the CNN at
  ``--image-size`` pixels a side;
- ``tables``: classification tables of ../shared/bench, by default the issue's two (satimage:
  6 classes, 36 numbers; telco_churn: binary, 19 mixed columns; ``--tables`` adds splice and
  credit_data), 10 holders at Dirichlet α, the MLP (or
  ``--model xgboost``: trees bagged across the holders, ``--local-epochs`` boosting
  iterations each a round, ``--learning-rate`` XGBoost's eta);
- ``dp``: MNIST as above at α = 0.5 without DP, then with central DP at each ε (δ = 1e-5);
  10 clients allow ε = 1 for at most 5 rounds (``--rounds 5``), see RESULTS.md.

Results go to ``--out``/results.jsonl, a line per run. Needs Flower's virtualenv
(TRAINFORGE_FLOWER_VENV, or `make federated`).
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "images"))
from materialise import DATA, load, write_pngs

from trainforge.config import FederatedSimulationConfig
from trainforge.jobs.federate import run_federated_simulation
from trainforge.workspace import Workspace

BENCH = DATA.parent / "bench"
# the issue's two tables first (the default), then two more to judge settings beyond them
TABLES = {"satimage": "Class", "telco_churn": "churn", "splice": "Class", "credit_data": "Status"}
ISSUE_TABLES = ["satimage", "telco_churn"]


def mnist_folder(out: Path) -> Path:
    """All 10,000 MNIST test images as PNGs in class folders (written once)."""
    folder = out / "mnist"
    if not (folder / "9").is_dir():
        images, labels = load("mnist")
        write_pngs(images, labels, range(len(images)), folder,
                   class_names=[str(d) for d in range(10)])
    return folder


def bench_table(name: str, out: Path) -> Path:
    """The suite's gzipped table, unpacked (trainforge reads CSV)."""
    table = out / f"{name}.csv"
    if not table.exists():
        table.write_bytes(gzip.decompress((BENCH / "data" / f"{name}.csv.gz").read_bytes()))
    return table


def _mean(round_record: dict[str, Any], key: str) -> float | None:
    """A round's bytes to (``bytes_down``) or from (``bytes_up``) a client, mean over them."""
    sizes = [c[key] for c in round_record["clients"].values() if key in c]
    return sum(sizes) / len(sizes) if sizes else None


def run(config: FederatedSimulationConfig, *, label: str, out: Path) -> dict[str, Any]:
    """One federation in a fresh workspace; its figures as a JSON line."""
    home = Path(tempfile.mkdtemp(prefix="bench-federated-", dir=out))
    started = time.time()
    outcome = run_federated_simulation(config, workspace=Workspace(home))
    metric = outcome.task.metric
    row = {"run": label, "data": Path(config.data).name, "model": config.model,
           "partition": config.partition, "clients": config.clients, "rounds": config.rounds,
           "local_epochs": config.local_epochs, "learning_rate": config.learning_rate,
           "strategy": config.strategy, "server_momentum": config.server_momentum,
           "dp_epsilon": config.dp_epsilon, "metric": metric,
           "holders_rows": [h.n_rows for h in outcome.holders],
           "federated": {k: outcome.federated.metrics.get(k) for k in ("accuracy", metric)},
           "centralised": {k: outcome.centralised.metrics.get(k) for k in ("accuracy", metric)},
           "epsilon_spent": outcome.rounds[-1].get("dp_epsilon"),
           "round_s": [r["seconds"] for r in outcome.rounds],
           "bytes_down": [_mean(r, "bytes_down") for r in outcome.rounds],
           "bytes_up": [_mean(r, "bytes_up") for r in outcome.rounds],
           "accuracy_by_round": [(r["metrics"] or {}).get("accuracy") for r in outcome.rounds],
           # what was registered when it is no round's own model: the mean of the last rounds'
           # global weights ("federated" above scores it), and its clients' weighted figures
           "kept": None if outcome.kept is None else {"model": outcome.kept["kept"],
                                                      "clients_weighted": outcome.kept["metrics"]},
           "wall_s": time.time() - started}
    shutil.rmtree(home, ignore_errors=True)
    with (out / "results.jsonl").open("a") as results:
        results.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["mnist", "tables", "dp"])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/federated-networks"))
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.5, 0.1])
    parser.add_argument("--epsilons", type=float, nargs="+", default=[1.0, 3.0, 8.0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--local-epochs", type=int, default=2)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--strategy", default="auto",
                        choices=["auto", "fedavg", "fedprox", "fedavgm"])
    parser.add_argument("--server-momentum", type=float, default=0.7,
                        help="with fedavgm (and auto from 20 rounds on)")
    parser.add_argument("--image-size", type=int, default=14)
    parser.add_argument("--dp-max-grad-norm", type=float, default=1.0)
    parser.add_argument("--tables", nargs="+", default=ISSUE_TABLES, choices=list(TABLES))
    parser.add_argument("--model", default="mlp", choices=["mlp", "linear", "xgboost"],
                        help="tables: what the federation learns")
    parser.add_argument("--skip-baseline", action="store_true",
                        help="dp: only the private federations")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    common = {"clients": args.clients, "rounds": args.rounds, "local_epochs": args.local_epochs,
              "learning_rate": args.learning_rate, "strategy": args.strategy,
              "server_momentum": args.server_momentum, "seed": 0}
    if args.what == "tables":
        for name in args.tables:
            target = TABLES[name]
            for alpha in args.alphas:
                config = FederatedSimulationConfig(
                    data=str(bench_table(name, args.out)), target=target, model=args.model,
                    partition=f"dirichlet:{alpha:g}", **common)
                run(config, label=f"{name} {args.model} α={alpha:g}", out=args.out)
        return
    folder = str(mnist_folder(args.out))
    images = {"target": "label", "model": "cnn", "image_size": args.image_size}
    if args.what == "mnist":
        for alpha in args.alphas:
            config = FederatedSimulationConfig(data=folder, partition=f"dirichlet:{alpha:g}",
                                               **images, **common)
            run(config, label=f"mnist α={alpha:g}", out=args.out)
        return
    baseline = [] if args.skip_baseline else [None]  # the same federation without DP
    for epsilon in [*baseline, *args.epsilons]:
        config = FederatedSimulationConfig(
            data=folder, partition="dirichlet:0.5", dp_epsilon=epsilon,
            dp_delta=None if epsilon is None else 1e-5, dp_max_grad_norm=args.dp_max_grad_norm,
            **images, **common)
        run(config, label="mnist no DP" if epsilon is None else f"mnist DP ε={epsilon:g}",
            out=args.out)


if __name__ == "__main__":
    main()
