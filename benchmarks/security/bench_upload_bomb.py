"""A gzip bomb upload against a live platform server: what it costs the server (issue 10).

A fresh workspace and an editor token; the platform app served by uvicorn in its own process
on 127.0.0.1 (a free port), with the server's default limits. The client uploads a 40 MB CSV
gzipped to ~39 KB (``POST /api/v1/datasets``) while a second connection polls the cheap
authenticated ``GET /api/v1/me`` every 20 ms and a sampler reads the server's RSS (psutil)
every 10 ms. Printed per run and as medians over the runs: the upload's status, answer size
and time, the server's peak RSS growth over its idle RSS, and the GET's latencies during the
upload. Each run uses a fresh server; everything stops by itself.

    PYTHONPATH=src .venv/bin/python benchmarks/security/bench_upload_bomb.py --runs 3
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

from trainforge.store import access
from trainforge.workspace import Workspace

SERVE = ("import sys, uvicorn; from trainforge.server.app import create_server_app; "
         "from trainforge.workspace import Workspace; "
         "uvicorn.run(create_server_app(Workspace(sys.argv[1])), host='127.0.0.1', "
         "port=int(sys.argv[2]), log_level='warning')")
POLL_S = 0.02
SAMPLE_S = 0.01


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bomb(csv_mb: int) -> bytes:
    """``csv_mb`` MB of a four-column CSV, gzipped as small as gzip goes (~1000:1)."""
    row = b"1,2,3,4\n"
    return gzip.compress(b"a,b,c,d\n" + row * (csv_mb * 1_000_000 // len(row)), compresslevel=9)


def wait_until_up(client: httpx.Client) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            client.get("/api/v1/me").raise_for_status()
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def one_run(body: bytes) -> dict[str, float | int | str]:
    home = Path(tempfile.mkdtemp(prefix="bench-bomb-"))
    workspace = Workspace(home)
    token, _ = access.create_token(workspace, name="bench", role="editor")
    workspace.close()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVE, str(home), str(port)],
                              env=dict(os.environ, OMP_NUM_THREADS="1"))
    url, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}
    done = threading.Event()
    latencies_s: list[float] = []
    rss_peak = [0]

    def poll() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            while not done.is_set():
                started = time.perf_counter()
                client.get("/api/v1/me").raise_for_status()
                latencies_s.append(time.perf_counter() - started)
                time.sleep(POLL_S)

    def sample(process: psutil.Process) -> None:
        while not done.is_set():
            rss_peak[0] = max(rss_peak[0], process.memory_info().rss)
            time.sleep(SAMPLE_S)

    try:
        with httpx.Client(base_url=url, headers=headers, timeout=300) as client:
            wait_until_up(client)
            process = psutil.Process(server.pid)
            time.sleep(0.5)
            idle_rss = process.memory_info().rss
            threads = [threading.Thread(target=poll), threading.Thread(target=sample,
                                                                       args=(process,))]
            for thread in threads:
                thread.start()
            time.sleep(0.2)  # a few GETs before the upload starts
            started = time.perf_counter()
            answer = client.post("/api/v1/datasets",
                                 files={"file": ("bomb.csv.gz", body, "application/gzip")})
            upload_s = time.perf_counter() - started
            done.set()
            for thread in threads:
                thread.join(timeout=30)
    finally:
        done.set()
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(home, ignore_errors=True)
    ms = sorted(s * 1000 for s in latencies_s)
    return {"status": answer.status_code, "answer_bytes": len(answer.content),
            "detail": answer.text[:160], "upload_s": round(upload_s, 2),
            "rss_growth_mb": round((rss_peak[0] - idle_rss) / 2**20, 1),
            "get_n": len(ms), "get_p50_ms": round(statistics.median(ms), 1),
            "get_p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1), "get_max_ms": round(ms[-1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--csv-mb", type=int, default=40, help="decompressed CSV size")
    args = parser.parse_args()
    body = bomb(args.csv_mb)
    runs = [one_run(body) for _ in range(args.runs)]
    medians = {key: statistics.median(float(r[key]) for r in runs)
               for key in ("upload_s", "rss_growth_mb", "get_p50_ms", "get_p95_ms", "get_max_ms")}
    print(json.dumps({"upload_bytes": len(body), "csv_mb": args.csv_mb, "runs": runs,
                      "medians": medians, "load_average_1m": os.getloadavg()[0]}, indent=2))


if __name__ == "__main__":
    main()
