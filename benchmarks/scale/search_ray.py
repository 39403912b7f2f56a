"""AutoML at equal budget: the search's trials one at a time here vs on a Ray cluster.

    python benchmarks/scale/search_ray.py                        # local 1 worker vs ray 2
    python benchmarks/scale/search_ray.py --backends local       # runs on code without Ray too
    python benchmarks/scale/search_ray.py --tables credit_g cmc --budget 30
    python benchmarks/scale/search_ray.py --nodes 2               # two `ray start` nodes, 1 CPU each

Per table of /work/shared/bench (its fixed seeded 80/20 split and its harness's score: ROC-AUC,
balanced accuracy or R² on the test split), trains with ``--budget`` seconds through the SDK
(`tf.train`, the whole run: search, refit, report, registration) and prints, side by side, the
test score, the search's validation score and the number of trials that finished. The Ray
backend runs on a local Ray of ``--workers`` CPUs started by this process, warmed by one small
search first (a fresh cluster's workers spend their first
seconds importing trainforge; a cluster in use has them already).

Then, for the choice of what a Ray trial sends back: on one table, the seconds to ship a
trial's fitted fold models in their safe form (skops / native files written and read back)
against the seconds to fit the candidate once on all rows in the driver, which a blend pays
only for the few candidates it chooses.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BENCH = Path("/work/shared/bench")
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "scripts"))

import automl_bench  # the suite's harness: its splits and its score
import cluster  # scripts/cluster.py: its two `ray start` nodes
import numpy as np
import pandas as pd
import ray

import trainforge as tf
from trainforge.workspace import Workspace

TABLES = ["credit_g", "cmc", "concrete", "telco_churn"]


def test_score(ds: dict[str, Any], model: Any, train: pd.DataFrame, test: pd.DataFrame,
               workdir: Path) -> float:
    features = test.drop(columns=[ds["target"]])
    out = workdir / "predictions.csv"
    if ds["task"] == "regression":
        pd.DataFrame({"prediction": model.predict(features)}).to_csv(out, index=False)
    else:
        model.predict_proba(features).to_csv(out, index=False)
    scores = automl_bench.score_predictions(ds, train[ds["target"]], test[ds["target"]], out)
    return float(scores[automl_bench.PRIMARY[ds["task"]]])


def train_once(ds: dict[str, Any], split: Path, *, budget: float, backend: str,
               workers: int) -> dict[str, Any]:
    train = automl_bench.read_table(split / "train.csv", ds)
    test = automl_bench.read_table(split / "test.csv", ds)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        # the local run passes no search option, so it runs on code from before them too
        options = ({} if backend == "local"
                   else {"search_backend": backend, "search_workers": workers})
        model = tf.train(split / "train.csv", target=ds["target"], time_budget=budget, seed=0,
                         name="bench", workspace=Workspace(Path(tmp) / "home"), **options)
        wall_s = time.monotonic() - started
        search = model.outcome.search
        return {"test": test_score(ds, model, train, test, Path(tmp)),
                "validation": search.validation_score, "trials": search.n_trials,
                "finished": sum(1 for c in search.leaderboard
                                if c.number is not None and c.score is not None),
                "wall_s": wall_s}


def ship_or_refit(ds: dict[str, Any], split: Path) -> None:
    """A trial's fold models written and read back in their safe form vs one fit on all rows."""
    from trainforge.algorithms import catalog
    from trainforge.data.schema import infer_schema
    from trainforge.data.task import DEFAULT_METRIC, Task, TaskKind
    from trainforge.registry.safe_files import load_object, save_object
    from trainforge.training.automl import _prepare
    from trainforge.training.trial import CandidateSpec, configure, run_trial

    train = automl_bench.read_table(split / "train.csv", ds)
    kind = TaskKind(ds["task"])
    classes = tuple(sorted(train[ds["target"]].astype(str).unique())) if kind.is_classification \
        else ()
    task = Task(ds["target"], kind, DEFAULT_METRIC[kind], classes)
    schema = infer_schema(train)
    features = [c for c in train.columns if c != ds["target"]]
    data, _ = _prepare(train, task=task, schema=schema, features=features, seed=0,
                       algorithm="auto")
    for name in ("lightgbm", "extra_trees", "linear"):
        result = run_trial(CandidateSpec(name, {}), data, stop_at=None)
        with tempfile.TemporaryDirectory() as tmp:
            began = time.perf_counter()
            for index, member in enumerate(result.members):
                for part, value in (("pre", member.preprocessor), ("est", member.estimator)):
                    entry = save_object(value, Path(tmp), stem=f"{part}{index}")
                    load_object(entry, Path(tmp))
            ship_s = time.perf_counter() - began
        algorithm = catalog.get(name)
        all_rows = np.arange(len(data.y))
        began = time.perf_counter()
        fold = data.prepare(algorithm.preprocessing, all_rows, all_rows[:0])
        estimator = configure(algorithm.build({}, task, 0), data, fold)
        estimator.fit(fold.train, data.y)
        refit_s = time.perf_counter() - began
        print(f"  {name:12s} {len(result.members)} fold models shipped (skops/native, written "
              f"and read): {ship_s:6.2f} s   one fit on all rows: {refit_s:6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", nargs="+", default=TABLES)
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--backends", nargs="+", default=["local", "ray"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--nodes", type=int, choices=(1, 2), default=1,
                        help="2: a head and a second node of one CPU each (`ray start`, as "
                             "scripts/cluster.py up starts them) instead of one in-process node")
    args = parser.parse_args()
    suite = automl_bench.load_suite()
    splits = Path(tempfile.mkdtemp(prefix="splits"))
    rows: dict[str, dict[str, dict[str, Any]]] = {}
    for backend in args.backends:
        workers = 1 if backend == "local" else args.workers
        nodes: dict[str, Any] = {"env": {}, "processes": {}}
        if backend == "ray" and args.nodes == 2:
            # token auth off for the nodes and this driver alike (a ~/.ray/auth_token on the
            # machine switches it on), as scripts/cluster.py and the tests do on 127.0.0.1
            os.environ["RAY_AUTH_MODE"] = "disabled"
            logs = Path(tempfile.mkdtemp(prefix="ray-nodes"))
            address = cluster.start_ray(logs, nodes)["TRAINFORGE_RAY_ADDRESS"]
            ray.init(address=address, log_to_driver=False)
        elif backend == "ray":
            # a one-node cluster of --workers CPUs started by this process
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        if backend == "ray":
            warm = automl_bench.make_split(suite["by_name"]["credit_g"], splits, suite)
            tf.train(warm / "train.csv", target="class", trials=4, search_backend="ray",
                     search_workers=workers, workspace=Workspace(splits / "warm"))
        for name in args.tables:
            ds = suite["by_name"][name]
            split = automl_bench.make_split(ds, splits, suite)
            rows.setdefault(name, {})[backend] = train_once(ds, split, budget=args.budget,
                                                            backend=backend, workers=workers)
            print(name, backend, rows[name][backend], flush=True)
        if backend == "ray":
            ray.shutdown()
            cluster.stop_all(nodes)
    print(f"\n{'table':14s}" + "".join(f"{b + ' test':>12s}{b + ' val':>11s}{'trials':>8s}"
                                       for b in args.backends))
    for name, by in rows.items():
        print(f"{name:14s}" + "".join(f"{by[b]['test']:12.4f}{by[b]['validation']:11.4f}"
                                      f"{by[b]['finished']:8d}" for b in args.backends))
    if "ray" not in args.backends:
        return
    print("\nwhat a Ray trial sends back (credit_g):")
    ship_or_refit(suite["by_name"]["credit_g"],
                  automl_bench.make_split(suite["by_name"]["credit_g"], splits, suite))


if __name__ == "__main__":
    main()
