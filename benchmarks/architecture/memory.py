"""Peak memory of tabular runs: the figures behind issue #11, item 8.

Two measurements, each of the real `trainforge` commands run from this checkout's `src/`:
1. `trainforge train examples/credit_g.csv --target class --trials 3`: peak RSS of the process
   tree (sampled every 0.05 s) and whether torch / matplotlib / skops were imported;
2. the shared bench harness (`../shared/bench`, as `benchmarks/automl/run.sh` runs it) on a few
   dev tables at a 30 s budget: `train && predict`, peak RSS summed over the process tree, score.

    python benchmarks/architecture/memory.py [--datasets adult credit_g ...] [--budget 30]
        [--label after] [--skip-bench] [--src PATH]

``--src`` measures another source tree (e.g. the original code, from
`git archive BASE src | tar -x -C /tmp/orig`) with this script.

Results go to benchmarks/out/ (ignored by git). The machine it ran on is printed: on a shared
machine, scores at 30 s are noisy, memory much less so.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SHARED", REPO.parent / "shared"))
DEFAULT_DATASETS = ["adult", "credit_g", "cmc", "splice", "california_housing"]
# runs the CLI in-process, then reports which heavy packages the run imported
_PROBE = ("import sys; from trainforge.cli import main\n"
          "try:\n    main()\nexcept SystemExit:\n    pass\n"
          "print('IMPORTED', [m for m in ('torch', 'matplotlib', 'skops', 'optuna', 'shap') "
          "if m in sys.modules], file=sys.stderr)")


SRC = REPO / "src"


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(SRC), OMP_NUM_THREADS="2")


def _tree_rss_mb(process: psutil.Process) -> float:
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def probe_credit_g(python: str, trials: int) -> None:
    home = tempfile.mkdtemp(prefix="tf-mem-")
    cmd = [python, "-c", _PROBE, "train", str(REPO / "examples/credit_g.csv"), "--target", "class",
           "--trials", str(trials), "--seed", "0"]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=dict(_env(), TRAINFORGE_HOME=home), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    ps, peak = psutil.Process(proc.pid), 0.0
    while proc.poll() is None:
        try:
            peak = max(peak, _tree_rss_mb(ps))
        except psutil.Error:
            break
        time.sleep(0.05)
    stderr = proc.stderr.read() if proc.stderr else ""
    imported = next((line for line in stderr.splitlines() if line.startswith("IMPORTED")), stderr[-400:])
    print(f"credit_g --trials {trials}: peak {peak:.0f} MB, {time.perf_counter() - started:.1f} s, "
          f"rc {proc.returncode}, {imported}")
    shutil.rmtree(home, ignore_errors=True)


def run_bench(python: str, datasets: list[str], budget: int, results: Path) -> None:
    bench = Path(tempfile.mkdtemp(prefix="bench-mem-"))
    for name in ("automl_bench.py", "suite.json"):
        shutil.copy(SHARED / "bench" / name, bench / name)
    (bench / "data").symlink_to(SHARED / "bench" / "data")
    trainforge = f"{python} -m trainforge"
    cmd = (f"TRAINFORGE_HOME={{workdir}}/home {trainforge} train {{train}} --target {{target}} "
           f"--time-budget {{budget}} --name bench --seed 0 && TRAINFORGE_HOME={{workdir}}/home "
           f"{trainforge} predict bench {{test}} -o {{out}}")
    results.unlink(missing_ok=True)
    subprocess.run([python, "automl_bench.py", "run", "--tool", "cli", "--name", "trainforge",
                    "--budget", str(budget), "--split", "dev", "--datasets", *datasets,
                    "--results", str(results), "--cmd", cmd], cwd=bench, env=_env(), check=True)
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    print(f"\n{'dataset':20s} {'status':8s} {'peak MB':>8s} {'score':>7s} {'wall s':>7s}")
    for r in rows:
        print(f"{r['dataset']:20s} {r['status']:8s} {r['peak_rss_mb'] or 0:8.0f} "
              f"{r['score'] or float('nan'):7.4f} {r['wall_time_s'] or 0:7.1f}")
    for r in rows:
        if r["status"] != "ok":  # say why: on a loaded machine a 30 s budget can run out
            log = bench / "runs" / "trainforge" / r["dataset"] / "log.txt"
            tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
            print(f"{r['dataset']}: {r['error']}: {' | '.join(tail)}")
    peaks = [r["peak_rss_mb"] for r in rows if r["peak_rss_mb"]]
    print(f"median peak {statistics.median(peaks):.0f} MB, max {max(peaks):.0f} MB over {len(peaks)}")
    shutil.rmtree(bench, ignore_errors=True)


def main() -> None:
    global SRC
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=DEFAULT_DATASETS)
    parser.add_argument("--budget", type=int, default=30)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--label", default="now")
    parser.add_argument("--skip-bench", action="store_true")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--src", type=Path, default=SRC)
    args = parser.parse_args()
    SRC = args.src.resolve()
    print(f"measuring trainforge from {SRC}")
    print(f"host {os.uname().nodename}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    probe_credit_g(args.python, args.trials)
    if not args.skip_bench:
        out = REPO / "benchmarks" / "out" / f"memory-{args.label}-{args.budget}s.jsonl"
        out.parent.mkdir(parents=True, exist_ok=True)
        run_bench(args.python, args.datasets, args.budget, out)


if __name__ == "__main__":
    main()
