"""One row's served explanation in process, two source trees side by side: an interleaved A/B.

    python benchmarks/explain/explain_cpu_ab.py --home DIR --a OLD/src --b NEW/src

``DIR`` is a workspace ``explain_latency.py --home DIR`` trained. Each tree loads the same model
in a process of its own (``PYTHONPATH`` = that tree) and builds its served explainer; each
round, A and B (which goes first alternating) explain the same one-row records. Per record:
the explanation's CPU on the request thread with the pool turned off (all its work, one
thread: the figure that compares code on a machine whose load and speed move), the whole
answer's CPU the same way (parse, predict, explain, describe, JSON: since h-x4 a walked blend's
answer predicts from its walk), and the whole answer's wall time with the pool on (parse, predict, explain, describe, JSON: what the route
does without HTTP). Printed: each side's p50 over all rounds and the per-round ratio of B's p50
to A's (median and range). To get a tree of an older commit: ``git archive COMMIT src | tar -x
-C /tmp/old``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
# run in each side's process: reads a line per round, answers the round's timings as JSON
WORKER = """
import json, sys, time
sys.path.insert(0, {here!r})
from pathlib import Path
import orjson
from explain_latency import WARM_UP, _records, _split, _top_5, trained
from trainforge.serving import explain
from trainforge.serving.app import _explained_answer
from trainforge.serving.served import ServedModel

loaded = trained(Path({home!r}), time_budget_s=120)
served = ServedModel(loaded)
explainer = explain.ServedExplainer(served)
explainer.explainer()
_, test = _split()
records = _records(test.drop(columns=["class"]).head(WARM_UP + {per_round}))
bodies = [orjson.dumps({{"records": [r]}}) for r in records]
columns = [served.signature.parse_request(body) for body in bodies]
pool, top_5 = explain._MEMBERS, _top_5(_explained_answer)


def answer(body):
    return orjson.dumps(_explained_answer(served, explainer, body, max_records=100,
                                          **top_5).body)


for body, rows in zip(bodies[:WARM_UP], columns[:WARM_UP]):
    answer(body)
    explainer.explain(rows)
print("ready", flush=True)
for _ in sys.stdin:
    cpu, answer_cpu, wall = [], [], []
    for body, rows in zip(bodies[WARM_UP:], columns[WARM_UP:]):
        explain._MEMBERS = None
        started = time.thread_time()
        explainer.explain(rows)
        cpu.append(time.thread_time() - started)
        started = time.thread_time()
        answer(body)
        answer_cpu.append(time.thread_time() - started)
        explain._MEMBERS = pool
        started = time.perf_counter()
        answer(body)
        wall.append(time.perf_counter() - started)
    print(json.dumps({{"cpu": cpu, "answer_cpu": answer_cpu, "wall": wall}}), flush=True)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--a", type=Path, required=True, help="the baseline's src folder")
    parser.add_argument("--b", type=Path, required=True, help="the change's src folder")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--per-round", type=int, default=100)
    args = parser.parse_args()
    script = WORKER.format(here=str(HERE), home=str(args.home), per_round=args.per_round)
    env = {**os.environ, "TRAINFORGE_HOME": str(args.home), "OMP_NUM_THREADS": "1"}
    sides = {side: subprocess.Popen([sys.executable, "-c", script], text=True,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    env={**env, "PYTHONPATH": str(tree)})
             for side, tree in (("A", args.a), ("B", args.b))}
    times: dict[str, dict[str, list[list[float]]]] = {
        s: {"cpu": [], "answer_cpu": [], "wall": []} for s in sides}
    try:
        for worker in sides.values():
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        for round_ in range(args.rounds):
            for side in ("A", "B") if round_ % 2 == 0 else ("B", "A"):
                worker = sides[side]
                assert worker.stdin is not None and worker.stdout is not None
                worker.stdin.write("go\n")
                worker.stdin.flush()
                for key, seconds in json.loads(worker.stdout.readline()).items():
                    times[side][key].append(seconds)
    finally:
        for worker in sides.values():
            if worker.stdin is not None:
                worker.stdin.close()
            worker.wait(timeout=60)
    for key, label in (("cpu", "explanation, CPU of one thread (no pool)"),
                       ("answer_cpu", "whole answer, CPU of one thread (no pool)"),
                       ("wall", "whole answer, wall (pool)")):
        print(f"{label}:")
        for side, tree in (("A", args.a), ("B", args.b)):
            ms = np.concatenate(times[side][key]) * 1e3
            print(f"  {side} ({tree}): p50 {np.percentile(ms, 50):.3f} ms, "
                  f"p95 {np.percentile(ms, 95):.3f} ms over {len(ms)} records")
        ratios = [np.median(b) / np.median(a)
                  for a, b in zip(times["A"][key], times["B"][key], strict=True)]
        print(f"  B/A p50 per round: median {np.median(ratios):.3f} "
              f"(range {min(ratios):.3f}–{max(ratios):.3f}, {len(ratios)} rounds)")


if __name__ == "__main__":
    main()
