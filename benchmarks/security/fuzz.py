"""The standing fuzz (tests/security): how long it takes and what it finds, median of runs.

    .venv/bin/python benchmarks/security/fuzz.py [--runs 3] [--examples N]

Prints, per run and as medians: wall time, CPU time (the pytest process and its children),
and the outcome counts (passed, xfailed = known failures of today's code, failed, xpassed).
``--examples`` sets TRAINFORGE_FUZZ_EXAMPLES (requests per operation) for a deeper run.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def outcomes(junit: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for case in ET.parse(junit).getroot().iter("testcase"):
        skipped = case.find("skipped")
        if case.find("failure") is not None or case.find("error") is not None:
            counts["failed"] += 1
        elif skipped is not None:
            counts["xfailed" if skipped.get("type") == "pytest.xfail" else "skipped"] += 1
        else:
            counts["passed"] += 1
    return counts


def one_run(examples: int | None) -> tuple[float, float, Counter[str]]:
    env = dict(os.environ)
    if examples is not None:
        env["TRAINFORGE_FUZZ_EXAMPLES"] = str(examples)
    with tempfile.TemporaryDirectory() as scratch:
        junit = Path(scratch) / "fuzz.xml"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pytest", "tests/security", "-q",
                        "-p", "no:cacheprovider", f"--junitxml={junit}"],
                       cwd=ROOT, env=env, capture_output=True, check=False)
        wall_s = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall_s, cpu_s, outcomes(junit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--examples", type=int, default=None)
    args = parser.parse_args()
    walls, cpus = [], []
    for run in range(1, args.runs + 1):
        wall_s, cpu_s, counts = one_run(args.examples)
        walls.append(wall_s)
        cpus.append(cpu_s)
        print(f"run {run}: {wall_s:.1f} s wall, {cpu_s:.1f} s CPU, "
              + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())), flush=True)
    print(f"median over {args.runs} runs: {statistics.median(walls):.1f} s wall, "
          f"{statistics.median(cpus):.1f} s CPU")


if __name__ == "__main__":
    main()
