"""Where the test suite's time goes under `make test`'s scheduling (issue 11, item 9).

    python benchmarks/suite/suite_times.py [pytest arguments]   # default: -n 2 --dist loadfile

Runs pytest with this file as a plugin that logs every test phase as it ends (worker, duration,
test), so the figures survive a run stopped part way; then prints the wall time, each worker's
busy time and, per file, its worker, when it started and ended, its total (setup + call +
teardown, module fixtures included) and its test count. The last files to end show the long
poles of --dist loadfile: one worker still busy while the other has nothing left.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

LOG_VARIABLE = "SUITE_TIMES_LOG"


def pytest_runtest_logreport(report: Any) -> None:
    """On xdist's controller: one line per phase of a worker's test (the controller sees each
    report twice, once from the worker and once re-logged; only the worker's has a node)."""
    node = getattr(report, "node", None)
    if node is None or LOG_VARIABLE not in os.environ:
        return
    with open(os.environ[LOG_VARIABLE], "a", encoding="utf-8") as log:
        log.write(f"{time.time():.2f}\t{node.gateway.id}\t{report.duration:.3f}\t"
                  f"{report.nodeid}\n")


def summarise(path: Path, *, files: int) -> None:
    rows = [line.rstrip("\n").split("\t") for line in path.open(encoding="utf-8")]
    if not rows:
        print("no test reports were logged (was the run given -n?)")
        return
    first = min(float(ended) - float(took) for ended, _, took, _ in rows)
    spans: dict[tuple[str, str], list[float]] = {}
    busy: collections.Counter[str] = collections.Counter()
    tests: collections.Counter[str] = collections.Counter()
    for ended, worker, took, node_id in rows:
        file = node_id.split("::")[0]
        start, stop = float(ended) - float(took) - first, float(ended) - first
        span = spans.setdefault((worker, file), [start, stop, 0.0])
        span[0], span[1], span[2] = min(span[0], start), max(span[1], stop), span[2] + float(took)
        busy[worker] += float(took)
        tests[file] += 1
    print(f"wall {max(s[1] for s in spans.values()):.0f} s; busy: "
          + ", ".join(f"{w} {t:.0f} s" for w, t in sorted(busy.items())))
    print("\nslowest files (total s, tests, worker, start-end s):")
    for (worker, file), (start, stop, total) in sorted(spans.items(), key=lambda s: -s[1][2])[:files]:
        print(f"{total:7.1f} {tests[file] // 3:5d}  {worker} {start:6.0f}-{stop:<6.0f} {file}")
    print("\nthe last files to end:")
    for (worker, file), (start, stop, total) in sorted(spans.items(), key=lambda s: s[1][1])[-8:]:
        print(f"{total:7.1f} {tests[file] // 3:5d}  {worker} {start:6.0f}-{stop:<6.0f} {file}")


def main() -> int:
    arguments = sys.argv[1:] or ["-n", "2", "--dist", "loadfile"]
    log = Path(f"suite-times-{os.getpid()}.tsv").resolve()
    here = str(Path(__file__).resolve().parent)
    env = {**os.environ, LOG_VARIABLE: str(log),
           "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), here]))}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "suite_times",
                           "-p", "no:cacheprovider", *arguments], env=env, check=False)
    print(f"\npytest exited {done.returncode} after {time.monotonic() - started:.0f} s")
    if log.exists():
        summarise(log, files=40)
        log.unlink()
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
