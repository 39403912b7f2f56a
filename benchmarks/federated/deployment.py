"""Ten data holders as real processes on Flower 1.42's deployment runtime: a SuperLink and ten
SuperNodes talking Flower's Fleet API (HTTP) on 127.0.0.1, each SuperNode starting trainforge's
ClientApp for every message. One invocation measures, on the same holders:

  plain    FedAvg: seconds per round, bytes per client per round (to and from the SuperLink)
  secure   the same with the fit round through SecAgg+ (its cost against plain)
  killed   FedAvg with one SuperNode SIGKILLed once it holds its round-2 message: the round
           completes with the nine left (--min-clients 9)

    .venv/bin/python benchmarks/federated/deployment.py [--table examples/adult.csv
        --target income --clients 10 --rounds 2 --out benchmarks/out/federated-deployment.json]

Needs Flower's virtualenv (`make federated`, or TRAINFORGE_FLOWER_VENV). Bytes are Flower's
own serialisation of every message (its objects deflated, as its object store moves them),
counted by the ServerApp; HTTP framing is not counted. See benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil

from trainforge.data.read import read_table
from trainforge.federated.environment import flower_python, venv_path
from trainforge.federated.partition import Scheme, partition
from trainforge.federated.plan import FederationPlan, secure_quorum
from trainforge.federated.planning import declare_table
from trainforge.federated.processes import run_federation
from trainforge.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
VICTIM = "client-9"
RUNS = ("plain", "secure", "killed")


def holders(table: Path, target: str, *, n_clients: int, folder: Path
            ) -> tuple[FederationPlan, list[tuple[str, Path]]]:
    dataset = read_table(table)
    declared = declare_table(dataset, target, model="linear")
    frame, task, schema = declared.frame, declared.task, declared.schema
    tables, largest = [], 0
    for holder in partition(frame, task, n_clients=n_clients, scheme=Scheme("iid"), seed=0):
        tables.append((holder.name, folder / f"{holder.name}.parquet"))
        frame.iloc[holder.rows].to_parquet(tables[-1][1], index=False)
        largest = max(largest, holder.n_rows)
    plan = FederationPlan(schema=schema, strategy="fedavg", rounds=2, min_clients=n_clients,
                          proximal_mu=0.0, local_epochs=1, batch_size=32, learning_rate=0.1,
                          seed=0, test_size=0.2, round_timeout_s=600.0,
                          secure_max_rows=largest)
    return plan, tables


def kill_when_round_2_reaches(scratch: Path) -> None:
    """SIGKILL the victim's SuperNode once its log shows it holds a round-2 message."""
    log, deadline = scratch / f"{VICTIM}.log", time.monotonic() + 600
    while "ROUND 2]" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    node = next(p for p in psutil.Process().children(recursive=True)
                if any(f"/{VICTIM}/node.toml" in part for part in p.cmdline()))
    os.kill(node.pid, signal.SIGKILL)


def federate(name: str, plan: FederationPlan, tables: list[tuple[str, Path]], *,
             python: Path, folder: Path) -> dict[str, Any]:
    scratch = folder / name
    scratch.mkdir()
    rounds: list[dict[str, Any]] = []
    lost: list[str] = []

    def on_round(record: dict[str, Any]) -> None:
        rounds.append(record)
        print(f"  {name} round {record['round']}: {len(record['clients'])} clients, "
              f"{record['seconds']:.1f} s, loss {record['loss']}, "
              f"{record['failures']} failed or silent", flush=True)
        if name == "killed" and record["round"] == 1:
            kill_when_round_2_reaches(scratch)

    started = time.time()
    run_federation(plan, tables, python=python, scratch=scratch, on_round=on_round,
                   on_client_lost=lambda client, why: lost.append(client))
    wall_s = time.time() - started
    per_round = [{"round": r["round"], "seconds": r["seconds"], "clients": len(r["clients"]),
                  "failures": r["failures"],
                  "loss": r["loss"], "accuracy": (r["metrics"] or {}).get("accuracy"),
                  "bytes_down": statistics.mean(c["bytes_down"] for c in r["clients"].values()),
                  "bytes_up": statistics.mean(c["bytes_up"] for c in r["clients"].values())}
                 for r in rounds]
    return {"name": name, "wall_s": wall_s, "rounds": per_round, "lost": lost,
            "secure_aggregation": plan.secure_aggregation, "min_clients": plan.min_clients}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", type=Path, default=ROOT / "examples" / "adult.csv")
    parser.add_argument("--target", default="income")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--runs", nargs="+", choices=RUNS, default=list(RUNS))
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks" / "out" / "federated-deployment.json")
    args = parser.parse_args()
    python = flower_python(venv_path(Workspace().home))
    results: dict[str, Any] = {"table": str(args.table), "clients": args.clients,
                               "load_average_before": os.getloadavg(), "runs": []}
    with tempfile.TemporaryDirectory(prefix="trainforge-bench-federated-") as folder:
        plan, tables = holders(args.table, args.target, n_clients=args.clients,
                               folder=Path(folder))
        plan = replace(plan, rounds=args.rounds)
        runs = {"plain": plan, "secure": replace(plan, secure_aggregation=True),
                "killed": replace(plan, min_clients=args.clients - 1)}
        for name, run_plan in ((name, runs[name]) for name in args.runs):
            print(f"{name}: {args.clients} SuperNodes, {args.rounds} rounds", flush=True)
            results["runs"].append(federate(name, run_plan, tables, python=python,
                                            folder=Path(folder)))
            results["load_average_after_" + name] = os.getloadavg()
    results["secure_quorum"] = secure_quorum(args.clients)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print("| run | round | clients | seconds | bytes to a client | bytes from a client |")
    print("|---|---:|---:|---:|---:|---:|")
    for run in results["runs"]:
        for r in run["rounds"]:
            print(f"| {run['name']} | {r['round']} | {r['clients']} | {r['seconds']:.1f} | "
                  f"{r['bytes_down']:,.0f} | {r['bytes_up']:,.0f} |")
    print({run["name"]: round(run["wall_s"], 1) for run in results["runs"]}, "s wall each")


if __name__ == "__main__":
    main()
