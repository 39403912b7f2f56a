"""What one Flower ClientApp process costs a holder, phase by phase, per model kind.

Flower 1.42's SuperNode starts a ``flwr-clientapp`` process for every message. Each such
process, cold, pays: the interpreter and Flower's ClientApp command; trainforge's client
module and, per model kind, PyTorch or XGBoost; reading and preparing the holder's data; and
only then the message's work (here one ``fit``). This runs that sequence in a fresh process
from Flower's virtualenv, ``--repeat`` times per kind, and prints the median of each phase;
then the same work done as the holder's SuperNode now does it (``flower_warm``): by a fork of
that process, which has made the imports, prepared the data and fitted once (the first fit
pays PyTorch's lazy set-up).

    python benchmarks/federated/bench_clientapp.py [--repeat 3]

Kinds: linear, mlp and xgboost on one holder of credit_g (a third of its rows, iid, as
``federated simulate --clients 3`` deals them); a CNN on one holder of the digit images the
project ships (examples/digits, 14 × 14). Needs Flower's virtualenv (``make federated`` or
``TRAINFORGE_FLOWER_VENV``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from trainforge.data.images import read_image_folder
from trainforge.data.read import read_table
from trainforge.federated.environment import code_path, flower_python, venv_path
from trainforge.federated.holder_tables import write_holder_table
from trainforge.federated.partition import Scheme, partition
from trainforge.federated.plan import FederationPlan
from trainforge.federated.planning import declare_table, network_settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KINDS = {"linear": (EXAMPLES / "credit_g.csv", "class"),
         "mlp": (EXAMPLES / "credit_g.csv", "class"),
         "xgboost": (EXAMPLES / "credit_g.csv", "class"),
         "cnn": (EXAMPLES / "digits", "label")}

# what a cold ClientApp process does, timed: run in Flower's virtualenv
PROBE = """
import sys, time, json
from pathlib import Path
marks = {"start": time.perf_counter()}
import flwr.supernode.cli.flwr_clientapp
marks["flwr"] = time.perf_counter()
import trainforge.federated.flower_client
from trainforge.federated.plan import FederationPlan
plan = FederationPlan.load(Path(sys.argv[1]))
if plan.model == "xgboost":
    from trainforge.federated.flower_trees import TreeHolderClient as Holder
    from trainforge.federated.trees import initial_weights
else:
    from trainforge.federated.flower_holder import HolderClient as Holder
    from trainforge.federated.networks import initial_weights
marks["trainforge"] = time.perf_counter()
holder = Holder(plan, Path(sys.argv[2]), name="client-0")
marks["data"] = time.perf_counter()
holder.fit(initial_weights(plan), {"round": 1})
marks["fit"] = time.perf_counter()
# warm: what flower_warm does per message once prepared (a fork whose child fits and exits)
import os
forks = []
for _ in range(3):
    started = time.perf_counter()
    child = os.fork()
    if child == 0:
        holder.fit(initial_weights(plan), {"round": 2})
        os._exit(0)
    os.waitpid(child, 0)
    forks.append(time.perf_counter() - started)
marks["forks"] = forks
import resource
marks["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(marks))
"""


def holder_files(kind: str, folder: Path) -> tuple[Path, Path]:
    """The plan and client-0's table for ``kind``, as ``federated simulate --clients 3``
    writes them."""
    source, target = KINDS[kind]
    dataset = read_image_folder(source) if source.is_dir() else read_table(source)
    declared = declare_table(dataset, target, model=kind)
    frame, task, choice, schema = declared.frame, declared.task, declared.choice, declared.schema
    holder = partition(frame, task, n_clients=3, scheme=Scheme("iid"), seed=0)[0]
    plan = FederationPlan(schema=schema, strategy="fedavg", rounds=2, min_clients=3,
                          proximal_mu=0.0, local_epochs=1, batch_size=32, learning_rate=0.1,
                          seed=0, test_size=0.2, round_timeout_s=60.0, model=choice.model,
                          network=network_settings(choice, frame, task=task, image_size=14))
    image_column = plan.network.get("column") if plan.model == "cnn" else None
    table = write_holder_table(frame.iloc[holder.rows], folder / kind,
                               image_column=image_column)
    return plan.save(folder / kind / "plan.json"), table


def cold_phases(python: Path, environment: dict[str, str], plan: Path, table: Path
                ) -> dict[str, float]:
    """Seconds of each phase of one cold ClientApp process (interpreter: from the exec to
    the first line of the probe)."""
    started = time.perf_counter()
    done = subprocess.run([str(python), "-c", PROBE, str(plan), str(table)], env=environment,
                          capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    marks = json.loads(done.stdout.strip().splitlines()[-1])
    phases = {"interpreter + flwr": marks["flwr"] - marks["start"],
              "trainforge + torch/xgboost": marks["trainforge"] - marks["flwr"],
              "read + prepare data": marks["data"] - marks["trainforge"],
              "fit (the message's work)": marks["fit"] - marks["data"]}
    # the interpreter's own start (before the probe's first line) is the wall's remainder
    phases["interpreter + flwr"] += wall - (marks["fit"] - marks["start"])
    phases["whole process"] = wall
    phases["warm: fork + fit"] = statistics.median(marks["forks"])
    phases["peak RSS, MB (not s)"] = marks["peak_rss_mb"]  # what a warm process holds
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=list(KINDS))
    args = parser.parse_args()
    python = flower_python(venv_path(Path.home() / ".trainforge"))
    with tempfile.TemporaryDirectory(prefix="bench-clientapp-") as scratch:
        folder = Path(scratch)
        environment = {**os.environ, "PYTHONPATH": str(code_path(folder)),
                       "FLWR_TELEMETRY_ENABLED": "0", "OMP_NUM_THREADS": "1",
                       "MKL_NUM_THREADS": "1"}
        for kind in args.kinds:
            plan, table = holder_files(kind, folder)
            runs = [cold_phases(python, environment, plan, table) for _ in range(args.repeat)]
            print(f"{kind} (median of {args.repeat}, load {os.getloadavg()[0]:.1f}):")
            for phase in runs[0]:
                unit = "" if "MB" in phase else " s"
                print(f"  {phase:28s} {statistics.median(r[phase] for r in runs):7.3f}{unit}")


if __name__ == "__main__":
    main()
