"""Job submission latency: the round trip of `POST /api/v1/jobs` over loopback (issue 5).

A fresh workspace with one uploaded table (examples/credit_g.csv) and an editor token; the
platform app served by uvicorn in its own process, with no workers (the jobs only queue, so
nothing competes for the cores). One client submits train jobs one after the other on a
keep-alive connection; each round trip is timed on the client. Also timed: `GET /api/v1/jobs/{id}`
and `GET /api/v1/jobs/{id}/logs`, what a client polling a job sends.

    PYTHONPATH=src .venv/bin/python benchmarks/server/bench_jobs.py --n 200
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from trainforge.store import access
from trainforge.store.uploads import new_upload_dir, record_upload
from trainforge.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
SERVE = ("import sys, uvicorn; from trainforge.server.app import create_server_app; "
         "from trainforge.workspace import Workspace; "
         "uvicorn.run(create_server_app(Workspace(sys.argv[1])), host='127.0.0.1', "
         "port=int(sys.argv[2]), log_level='warning')")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def upload(workspace: Workspace, source: Path) -> str:
    upload_id, directory = new_upload_dir(workspace)
    path = directory / source.name
    shutil.copy(source, path)
    record_upload(workspace, upload_id=upload_id, path=path, size_bytes=path.stat().st_size,
                  sha256=hashlib.sha256(path.read_bytes()).hexdigest(), uploaded_by="bench")
    return upload_id


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples_s)

    def at(q: float) -> float:
        return ms[min(len(ms) - 1, round(q * (len(ms) - 1)))]

    return {"p50_ms": at(0.50), "p90_ms": at(0.90), "p99_ms": at(0.99),
            "mean_ms": statistics.fmean(ms), "max_ms": ms[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="submissions to time")
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    workspace = Workspace(home)
    token, _ = access.create_token(workspace, name="bench", role="editor")
    dataset = upload(workspace, ROOT / "examples" / "credit_g.csv")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVE, str(home), str(port)],
                              env=dict(os.environ, OMP_NUM_THREADS="1"))
    url = f"http://127.0.0.1:{port}"
    body = {"kind": "train", "dataset": dataset, "target": "class", "name": "credit",
            "time_budget": 60}
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                          timeout=30) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.get("/docs")
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            for _ in range(args.warmup):
                client.post("/api/v1/jobs", json=body).raise_for_status()
            submit, status, logs = [], [], []
            for _ in range(args.n):
                started = time.perf_counter()
                answer = client.post("/api/v1/jobs", json=body)
                submit.append(time.perf_counter() - started)
                answer.raise_for_status()
                job_id = answer.json()["id"]
                started = time.perf_counter()
                client.get(f"/api/v1/jobs/{job_id}").raise_for_status()
                status.append(time.perf_counter() - started)
                started = time.perf_counter()
                client.get(f"/api/v1/jobs/{job_id}/logs", params={"after": 0}).raise_for_status()
                logs.append(time.perf_counter() - started)
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(home, ignore_errors=True)
    result = {"n": args.n, "load_average_1m": os.getloadavg()[0],
              "POST /api/v1/jobs": percentiles(submit),
              "GET /api/v1/jobs/{id}": percentiles(status),
              "GET /api/v1/jobs/{id}/logs": percentiles(logs)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
