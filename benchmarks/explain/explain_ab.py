"""Loopback explain latency, two source trees side by side: an interleaved A/B.

    python benchmarks/explain/explain_ab.py --home DIR --a OLD/src --b NEW/src

``DIR`` is a workspace ``explain_latency.py --home DIR`` trained (its ``adult`` blend; train
it once with that script, then reuse it here and there). Each tree serves the same model in
its own process (``PYTHONPATH`` = that tree); each round posts the same one-row bodies to A
and to B, which goes first alternating, so both see the same load from the rest of the
machine. Printed: each side's p50 and p95 over all rounds, and the per-round ratio of B's p50
to A's (median and range), steadier than either figure on a shared machine. To get a tree of
an older commit: ``git archive COMMIT src | tar -x -C /tmp/old``.
"""

from __future__ import annotations

import argparse
import os
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import orjson
from explain_latency import WARM_UP, _records, _split, served_adult

URL = "/v1/models/adult/predict?explain=true"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--a", type=Path, required=True, help="the baseline's src folder")
    parser.add_argument("--b", type=Path, required=True, help="the change's src folder")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--per-round", type=int, default=60)
    parser.add_argument("--url", default=URL)
    args = parser.parse_args()
    _, test = _split()
    records = _records(test.drop(columns=["class"]).head(WARM_UP + args.per_round))
    bodies = [orjson.dumps({"records": [r]}) for r in records]
    headers = {"content-type": "application/json"}
    env = {**os.environ, "TRAINFORGE_HOME": str(args.home), "OMP_NUM_THREADS": "1"}
    times: dict[str, list[list[float]]] = {"A": [], "B": []}
    with ExitStack() as servers:
        clients = {side: servers.enter_context(served_adult({**env, "PYTHONPATH": str(tree)}))[0]
                   for side, tree in (("A", args.a), ("B", args.b))}
        for client in clients.values():  # the first explain builds the explainer
            for body in bodies[:WARM_UP]:
                assert client.post(args.url, content=body, headers=headers).status_code == 200
        for round_ in range(args.rounds):
            for side in ("A", "B") if round_ % 2 == 0 else ("B", "A"):
                seconds = []
                for body in bodies[WARM_UP:]:
                    started = time.perf_counter()
                    answer = clients[side].post(args.url, content=body, headers=headers)
                    seconds.append(time.perf_counter() - started)
                    assert answer.status_code == 200
                times[side].append(seconds)
    for side, tree in (("A", args.a), ("B", args.b)):
        ms = np.concatenate(times[side]) * 1e3
        print(f"{side} ({tree}): p50 {np.percentile(ms, 50):.2f} ms, "
              f"p95 {np.percentile(ms, 95):.2f} ms over {len(ms)} requests")
    ratios = [np.median(b) / np.median(a) for a, b in zip(times["A"], times["B"], strict=True)]
    print(f"B/A p50 per round: median {np.median(ratios):.3f} "
          f"(range {min(ratios):.3f}–{max(ratios):.3f}, {len(ratios)} rounds)")


if __name__ == "__main__":
    main()
