"""What Flower's SuperNode authentication costs a federation that speaks TLS (issue 16): a
SuperLink with a certificate of a CA made here and three SuperNodes on credit_g, real
processes on 127.0.0.1, FedAvg of the linear model. One invocation measures:

  join     what a holder's join adds with authentication on: its key pair made
           (``make_holder_key``) and the public key registered with the listening SuperLink
           through Flower's Control API (``register_holder``), each the median of 3 holders
  rounds   seconds from the holders' start to round 1's end, and per round after it

Run on this branch (the SuperLink with --enable-supernode-auth, each holder's key registered
before its SuperNode starts) and on the code before it (TLS, no authentication: no
``register_holder`` there), back to back, to compare:

    PYTHONPATH=src .venv/bin/python benchmarks/federated/node_auth.py --rounds 4
    PYTHONPATH=../main/src .venv/bin/python benchmarks/federated/node_auth.py --rounds 4

Needs Flower's virtualenv (`make federated`, or TRAINFORGE_FLOWER_VENV). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the tests' certificate authority
sys.path.insert(0, str(Path(__file__).resolve().parent))  # deployment.py's holders
from deployment import holders
from tests.federated._certificates import self_signed

from trainforge.federated import processes
from trainforge.federated.environment import flower_python, venv_path
from trainforge.workspace import Workspace

AUTHENTICATES = hasattr(processes, "register_holder")  # this branch on, the code before off


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", type=Path, default=ROOT / "examples" / "credit_g.csv")
    parser.add_argument("--target", default="class")
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=4)
    arguments = parser.parse_args()
    python = flower_python(venv_path(Workspace().home))
    with tempfile.TemporaryDirectory(prefix="trainforge-node-auth-") as folder:
        scratch = Path(folder)
        plan, tables = holders(arguments.table, arguments.target,
                               n_clients=arguments.clients, folder=scratch)
        plan = replace(plan, rounds=arguments.rounds)
        print(json.dumps({"authenticated": AUTHENTICATES, "clients": arguments.clients,
                          **federate(plan, tables, python=python, scratch=scratch)}))


def federate(plan: Any, tables: list[tuple[str, Path]], *, python: Path, scratch: Path
             ) -> dict[str, Any]:
    certificates = self_signed(scratch)
    coordinator = processes.start_coordinator(plan, python=python, scratch=scratch,
                                              certificates=certificates)
    started: list[subprocess.Popen[bytes]] = []
    last_start, ended, joins = 0.0, [], []
    try:
        for name, table in tables:
            key = admit(coordinator.address, name, python=python, scratch=scratch,
                        ca_certificate=certificates.ca_certificate, joins=joins)
            last_start = time.monotonic()
            started.append(processes.start_holder(
                coordinator.address, plan, table, name, python=python, scratch=scratch,
                root_certificate=certificates.ca_certificate,
                **({"private_key": key} if key else {})))
        coordinator.follow(lambda record: ended.append(time.monotonic()),
                           lambda name, why: None)
    finally:
        for holder in started:
            holder.terminate()
            holder.wait()
        coordinator.stop()
    rounds = [ended[0] - last_start, *(b - a for a, b in itertools.pairwise(ended))]
    return {"rounds": len(ended), "first_round_s": round(rounds[0], 2),
            "later_rounds_s": [round(seconds, 2) for seconds in rounds[1:]],
            "later_round_median_s": round(statistics.median(rounds[1:]), 2)
            if len(rounds) > 1 else None,
            "key_pair_median_s": median_of(joins, "key_pair_s"),
            "register_median_s": median_of(joins, "register_s")}


def admit(address: str, name: str, *, python: Path, scratch: Path, ca_certificate: Path,
          joins: list[dict[str, float]]) -> Path | None:
    """What the join adds on this branch: a key pair, its public key registered; timed."""
    if not AUTHENTICATES:
        return None
    from trainforge.jobs.federation_keys import make_holder_key

    folder = scratch / f"{name}-key"
    folder.mkdir()
    begun = time.monotonic()
    private_key, public_key = make_holder_key(folder)
    made = time.monotonic()
    processes.register_holder(address, public_key, name, python=python,
                              root_certificate=ca_certificate, scratch=folder)
    joins.append({"key_pair_s": made - begun, "register_s": time.monotonic() - made})
    return private_key


def median_of(joins: list[dict[str, float]], key: str) -> float | None:
    return round(statistics.median(j[key] for j in joins), 3) if joins else None


if __name__ == "__main__":
    main()
