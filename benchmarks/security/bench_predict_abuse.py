"""Prediction under abuse: what oversized and invalid batches do to `trainforge serve`.

    PYTHONPATH=src python benchmarks/security/bench_predict_abuse.py        # ~1-2 minutes

The server is ``trainforge.serving.serve`` with its defaults (uvicorn, one worker,
httptools + uvloop), in its own process on 127.0.0.1 (a free port) so that its memory can be
read with psutil; a fresh one per scenario, so one scenario's leftovers never count in the
next. The model is the serving tests' LightGBM classifier (25 trees) on 2,000 adult rows.

Scenarios:
  (a) ``{"records": [{}, ...]}`` with 20,000 empty records: status and response size;
  (b) the same with 100,000 empty records: the server's peak RSS growth, and the latency of
      ``GET /health`` polled every 20 ms by another client while the request runs;
  (c) 100,000 valid adult records (~30 MB): the same figures;
  (d) one-row predictions: p50 latency and requests/s over 2,000 sequential requests on one
      keep-alive connection.
Every request is bounded by a timeout, every server is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as bench_serving: one-row predicts, no pool
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parents[2]
HEALTH_EVERY_S = 0.02
ATTACK_TIMEOUT_S = 120.0


def build_model() -> Any:
    sys.path.insert(0, str(ROOT))  # the serving tests' small real model
    from tests.serving.models import adult, lightgbm_classifier

    return lightgbm_classifier(adult(2_000), "class", ROOT / "examples")


def valid_records(n_records: int) -> list[dict[str, Any]]:
    sys.path.insert(0, str(ROOT))
    from tests.serving.models import adult, record

    rows = adult(2_000)
    pool = [record(rows, i) for i in range(len(rows))]
    return [pool[i % len(pool)] for i in range(n_records)]


def serve(port: int) -> None:
    """``--serve PORT``: the model under `trainforge serve`'s own server, until killed."""
    from trainforge.serving.server import serve as serve_models

    serve_models([build_model()], host="127.0.0.1", port=port)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """A served model in a subprocess, started healthy and always stopped."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([sys.executable, __file__, "--serve", str(self.port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def __enter__(self) -> Self:
        import httpx

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the server exited before it was ready")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the server did not become healthy in 120 s")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


class Watch:
    """While a request runs: the server's RSS every 5 ms and /health every 20 ms."""

    def __init__(self, server: Server) -> None:
        import psutil

        self.server, self.process = server, psutil.Process(server.process.pid)
        self.baseline_rss = self.process.memory_info().rss
        self.peak_rss = self.baseline_rss
        self.health_s: list[float] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._memory, daemon=True),
                         threading.Thread(target=self._health, daemon=True)]

    def _memory(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)
            time.sleep(0.005)

    def _health(self) -> None:
        import httpx

        with httpx.Client(timeout=ATTACK_TIMEOUT_S) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                client.get(f"{self.server.url}/health")
                self.health_s.append(time.perf_counter() - started)
                time.sleep(HEALTH_EVERY_S)

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        time.sleep(0.1)  # a few health answers before the attack: the idle latency
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=ATTACK_TIMEOUT_S)

    def figures(self) -> dict[str, float]:
        return {"rss_growth_mb": (self.peak_rss - self.baseline_rss) / 2**20,
                "health_p50_ms": statistics.median(self.health_s) * 1000,
                "health_max_ms": max(self.health_s) * 1000,
                "health_polls": len(self.health_s)}


def attack(body: bytes) -> dict[str, Any]:
    """POST ``body`` to a fresh server while watching it."""
    import httpx

    with Server() as server, Watch(server) as watch:
        started = time.perf_counter()
        response = httpx.post(f"{server.url}/v1/models/adult/predict", content=body,
                              headers={"content-type": "application/json"},
                              timeout=ATTACK_TIMEOUT_S)
        seconds = time.perf_counter() - started
    return {"status": response.status_code, "request_kb": len(body) / 1024,
            "response_kb": len(response.content) / 1024, "seconds": seconds, **watch.figures()}


def idle(seconds: float = 1.0) -> dict[str, Any]:
    """The control: /health polled on a server with nothing else to do (the machine's noise)."""
    with Server() as server, Watch(server) as watch:
        time.sleep(seconds)
    return {"status": 200, "request_kb": 0.0, "response_kb": 0.0, "seconds": seconds,
            **watch.figures()}


def one_row(n_requests: int = 2_000) -> dict[str, float]:
    import httpx
    import orjson

    body = orjson.dumps({"records": valid_records(1)})
    headers = {"content-type": "application/json"}
    with Server() as server, httpx.Client(timeout=30) as client:
        url = f"{server.url}/v1/models/adult/predict"
        for _ in range(200):  # warm-up
            client.post(url, content=body, headers=headers)
        latencies = []
        started = time.perf_counter()
        for _ in range(n_requests):
            sent = time.perf_counter()
            if client.post(url, content=body, headers=headers).status_code != 200:
                raise RuntimeError("a one-row prediction failed")
            latencies.append(time.perf_counter() - sent)
        elapsed = time.perf_counter() - started
    return {"p50_ms": statistics.median(latencies) * 1000, "requests_per_s": n_requests / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    import orjson

    def empty(n_records: int) -> bytes:
        return orjson.dumps({"records": [{}] * n_records})

    results = {
        "idle": idle(),
        "a_20k_empty": attack(empty(20_000)),
        "b_100k_empty": attack(empty(100_000)),
        "c_100k_valid": attack(orjson.dumps({"records": valid_records(100_000)})),
        "d_one_row": one_row(),
        "load_average": os.getloadavg(),
    }
    print(json.dumps(results, indent=1))
    print("| scenario | status | response | server RSS growth | /health p50 / max | took |")
    print("|---|---|---|---|---|---|")
    for name in ("idle", "a_20k_empty", "b_100k_empty", "c_100k_valid"):
        r = results[name]
        print(f"| {name} ({r['request_kb']:,.0f} KB) | {r['status']} | {r['response_kb']:,.1f} KB "
              f"| {r['rss_growth_mb']:,.0f} MB | {r['health_p50_ms']:.1f} / "
              f"{r['health_max_ms']:,.0f} ms | {r['seconds']:.2f} s |")
    d = results["d_one_row"]
    print(f"| one row, 2,000 sequential (keep-alive) | p50 {d['p50_ms']:.2f} ms | "
          f"{d['requests_per_s']:,.0f} req/s | | | |")


if __name__ == "__main__":
    main()
