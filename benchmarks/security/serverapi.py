"""One-row prediction latency through the platform server's ``/v1/models/{name}/predict``,
to check that keeping deployments in step across server processes (a background poll of the
store) costs the hot path nothing.

A fresh workspace; ``credit`` trained once (examples/credit_g.csv, linear, 1 trial); the
platform app served by uvicorn in its own process (lifespan on, so the poll runs), the model
deployed with ``POST /api/v1/deployments``. One client sends ``--n`` one-row requests one
after the other on a keep-alive connection over loopback, after ``--warmup`` unmeasured ones;
each round trip is timed on the client. Repeated ``--repeats`` times; the medians are printed.

    PYTHONPATH=src .venv/bin/python benchmarks/security/serverapi.py --n 2000 --repeats 3
"""

from __future__ import annotations

import argparse
import csv
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
SERVE = ("import sys, uvicorn; from trainforge.server.app import create_server_app; "
         "from trainforge.workspace import Workspace; "
         "uvicorn.run(create_server_app(Workspace(sys.argv[1])), host='127.0.0.1', "
         "port=int(sys.argv[2]), log_level='warning')")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def one_row() -> dict[str, object]:
    with open(ROOT / "examples" / "credit_g.csv", newline="") as handle:
        row = dict(next(csv.DictReader(handle)))
    row.pop("class")
    return {k: float(v) if v.replace(".", "", 1).isdigit() else v for k, v in row.items()}


def prepare(home: Path) -> str:
    import trainforge as tf
    from trainforge.store import access
    from trainforge.workspace import Workspace

    ws = Workspace(home)
    tf.train(ROOT / "examples" / "credit_g.csv", target="class", name="credit", trials=1,
             algorithm="linear", workspace=ws)
    token, _ = access.create_token(ws, name="bench", role="editor")
    ws.close()
    return token


def measure(url: str, token: str, *, n: int, warmup: int) -> list[float]:
    body = {"records": [one_row()]}
    headers = {"Authorization": f"Bearer {token}"}
    timings = []
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        for i in range(warmup + n):
            started = time.perf_counter()
            answer = client.post("/v1/models/credit/predict", json=body)
            elapsed = time.perf_counter() - started
            if answer.status_code != 200:
                raise SystemExit(f"predict answered {answer.status_code}: {answer.text}")
            if i >= warmup:
                timings.append(elapsed * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        token = prepare(home)
        port = free_port()
        env = dict(os.environ, OMP_NUM_THREADS="1")
        server = subprocess.Popen([sys.executable, "-c", SERVE, str(home), str(port)], env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{url}/docs", timeout=1)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise SystemExit("the server did not start") from None
                    time.sleep(0.2)
            deployed = httpx.post(f"{url}/api/v1/deployments", json={"model": "credit"},
                                  headers={"Authorization": f"Bearer {token}"}, timeout=60)
            deployed.raise_for_status()
            p50s, p99s = [], []
            for repeat in range(args.repeats):
                timings = sorted(measure(url, token, n=args.n, warmup=args.warmup))
                p50s.append(statistics.median(timings))
                p99s.append(timings[int(0.99 * (len(timings) - 1))])
                print(f"repeat {repeat + 1}: p50 {p50s[-1]:.3f} ms, p99 {p99s[-1]:.3f} ms "
                      f"({args.n} one-row requests)")
            print(f"median over {args.repeats} repeats: p50 {statistics.median(p50s):.3f} ms, "
                  f"p99 {statistics.median(p99s):.3f} ms")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
