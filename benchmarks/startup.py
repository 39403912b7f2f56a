"""Start-up: wall time of `trainforge --help`, median of repeated runs (target < 0.5 s).

    .venv/bin/python benchmarks/startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def time_command(command: list[str], *, runs: int) -> list[float]:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        timings.append(time.perf_counter() - started)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    executable = shutil.which("trainforge") or str(Path(sys.executable).parent / "trainforge")
    timings = time_command([executable, "--help"], runs=args.runs)
    print(f"trainforge --help: median {statistics.median(timings) * 1000:.0f} ms, "
          f"min {min(timings) * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms "
          f"over {args.runs} runs")


if __name__ == "__main__":
    main()
