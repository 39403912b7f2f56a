"""Job claim throughput of the store's queue: 1, 2 and 4 worker processes claiming (and
finishing) jobs from one queue at once, on SQLite (WAL, a file in a temp dir) and on a
throwaway PostgreSQL cluster on a Unix socket (as the tests start one).

    PYTHONPATH=src:. python benchmarks/storage/postgres.py [--jobs 400] [--repeats 3]

Each claimer is a process with its own engine (as the server's workers are). It claims and
finishes jobs until none is queued; a claimer told "empty" while jobs are still queued (a
lost race) counts it and tries again. Prints, per database and claimer count, the median
claims per second over ``--repeats`` rounds and the "empty" answers given while jobs were
queued. Needs initdb/pg_ctl and psycopg (see tests/store/postgres_cluster.py).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from tests.store.postgres_cluster import postgres_cluster

from trainforge.store import jobs as job_store
from trainforge.workspace import Workspace


def _claimer(home: str, url: str, start: float, results: multiprocessing.Queue) -> None:
    ws = Workspace(Path(home), database_url=url)
    worker = f"bench-{os.getpid()}"
    claimed = false_empty = 0
    while time.time() < start:
        time.sleep(0.001)
    while True:
        job = job_store.claim_job(ws, worker=worker)
        if job is None:
            if not job_store.list_jobs(ws, status="queued", limit=1):
                break
            false_empty += 1
            continue
        job_store.finish_job(ws, job["id"], status="succeeded", worker=worker)
        claimed += 1
    results.put((claimed, false_empty, time.time()))
    ws.close()


def one_round(home: Path, url: str, *, n_jobs: int, n_claimers: int) -> tuple[float, int]:
    ws = Workspace(home, database_url=url)
    with ws.engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM job_logs"))
        connection.execute(sa.text("DELETE FROM jobs"))
    for n in range(n_jobs):
        job_store.submit_job(ws, kind="train", config={"n": n})
    ws.close()
    results: multiprocessing.Queue = multiprocessing.Queue()
    start = time.time() + 1.5  # every claimer has opened its engine by then
    processes = [multiprocessing.Process(target=_claimer, args=(str(home), url, start, results))
                 for _ in range(n_claimers)]
    for process in processes:
        process.start()
    answers = [results.get(timeout=300) for _ in processes]
    for process in processes:
        process.join()
    assert sum(a[0] for a in answers) == n_jobs, answers
    elapsed = max(a[2] for a in answers) - start
    return n_jobs / elapsed, sum(a[1] for a in answers)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as sqlite_home, postgres_cluster() as pg_url:
        databases = {"sqlite": f"sqlite:///{sqlite_home}/trainforge.db", "postgres": pg_url}
        for name, url in databases.items():
            home = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
            for n_claimers in (1, 2, 4):
                rounds = [one_round(home, url, n_jobs=args.jobs, n_claimers=n_claimers)
                          for _ in range(args.repeats)]
                rates = sorted(r[0] for r in rounds)
                print(f"{name:8} claimers={n_claimers}: {statistics.median(rates):7.0f} "
                      f"claims/s (min {rates[0]:.0f}, max {rates[-1]:.0f}); 'empty' while "
                      f"queued: {[r[1] for r in rounds]}")


if __name__ == "__main__":
    main()
