"""Logging overhead: one-row predictions with the prediction log on (``all``) and off (``none``).

    python benchmarks/monitoring/log_overhead.py                       # ~1 minute
    python benchmarks/monitoring/log_overhead.py --requests 1000       # shorter
    python benchmarks/monitoring/log_overhead.py --baseline-src /tmp/orig/src
        # a third server running the code before the log was wired in (another checkout)

The model: trainforge's LightGBM (100 trees, 31 leaves) on examples/adult.csv (80 % of its rows,
14 features, 8 categorical), categories as ordinal codes. Each server is
``trainforge.serving.build_server`` (uvicorn, one worker, httptools + uvloop) in its own
process on 127.0.0.1: ``on`` records into a ``PredictionLog`` in a temporary folder (its writer
thread running), ``off`` serves with no recorder, as ``trainforge serve --log none`` does.

Over HTTP, one client sends one-row requests one at a time (keep-alive), in blocks of
``--block`` requests taking turns between the servers, so that the machine's drift is shared
evenly; then 8 concurrent clients, again in turns. Everything is bounded in count and stops by
itself. In-process: the same ASGI app called directly (no HTTP), on and off, in turns.
"""

from __future__ import annotations

import argparse
import asyncio
import os

# one row at a time: LightGBM's OpenMP pool would only add latency
os.environ.setdefault("OMP_NUM_THREADS", "1")
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
ADULT = ROOT / "examples" / "adult.csv"
NUMBERS = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
CATEGORIES = ["workclass", "education", "marital_status", "occupation", "relationship", "race",
              "sex", "native_country"]
TARGET = "income"


def build_model() -> tuple[Any, list[dict[str, Any]]]:
    """The served model (same seed, same model in every process) and 200 held-out records."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OrdinalEncoder

    from trainforge.algorithms.boosting import LightGBMModel
    from trainforge.algorithms.model import FeatureSpec, Member, TabularModel, coerce_frame
    from trainforge.data.dataset import ColumnKind
    from trainforge.data.task import Task, TaskKind
    from trainforge.registry.loaded import LoadedModel

    frame = pd.read_csv(ADULT, na_values="?").sample(frac=1.0, random_state=0)
    train, held_out = frame.iloc[: int(len(frame) * 0.8)], frame.iloc[int(len(frame) * 0.8):]
    features = ([FeatureSpec(n, ColumnKind.NUMERIC, "number") for n in NUMBERS]
                + [FeatureSpec(c, ColumnKind.CATEGORICAL, "string") for c in CATEGORIES])
    X = coerce_frame(train, features)
    classes = tuple(sorted(train[TARGET].astype(str).unique()))
    codes = np.searchsorted(np.asarray(classes, dtype=object),
                            train[TARGET].astype(str).to_numpy(dtype=object))
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan)
    pre = ColumnTransformer([("numbers", "passthrough", NUMBERS),
                             ("categories", encoder, CATEGORIES)]).fit(X)
    categorical = tuple(range(len(NUMBERS), len(NUMBERS) + len(CATEGORIES)))
    estimator = LightGBMModel(task_kind="binary", n_classes=2, n_estimators=100, num_leaves=31,
                              categorical_features=categorical, n_threads=1, seed=0)
    estimator.fit(pre.transform(X), codes)
    task = Task(target=TARGET, kind=TaskKind.BINARY, metric="roc_auc", classes=classes)
    model = TabularModel(task=task, features=features, members=[
        Member(algorithm="lightgbm", params={}, preprocessor=pre, estimator=estimator)])
    loaded = LoadedModel(name="adult", version=1, model=model, manifest={}, path=ADULT.parent)
    rows = held_out.drop(columns=[TARGET]).head(200)
    records = [{k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v)
                for k, v in row.items()} for row in rows.to_dict("records")]
    return loaded, records


def _app(loaded: Any, log: Any) -> Any:
    from trainforge.serving.app import create_app

    if log is None:  # as before the log existed: no recorder at all (works on old code too)
        return create_app({"adult": loaded})
    return create_app({"adult": loaded}, recorder=log)


def _log(mode: str, log_root: Path) -> Any:
    if mode == "off":
        return None
    from trainforge.monitoring.prediction_log import PredictionLog

    return PredictionLog(log_root)


# ---- a server process -------------------------------------------------------------------------
def serve(mode: str, port: int, log_root: Path) -> None:
    import uvicorn

    loaded, _ = build_model()
    config = uvicorn.Config(_app(loaded, _log(mode, log_root)), host="127.0.0.1", port=port,
                            workers=1, access_log=False, http="httptools", loop="uvloop",
                            log_level="warning")
    uvicorn.Server(config).run()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(mode: str, log_root: Path, *, src: Path | None) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(src or ROOT / "src")}
    process = subprocess.Popen([sys.executable, __file__, "--serve", mode, "--port", str(port),
                                "--log-root", str(log_root)], env=env)
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"the {mode} server did not start")


# ---- the clients ------------------------------------------------------------------------------
def one_at_a_time(urls: dict[str, str], bodies: list[bytes], *, n_requests: int,
                  block: int) -> dict[str, list[float]]:
    import httpx

    clients = {name: httpx.Client(base_url=url, headers={"content-type": "application/json"})
               for name, url in urls.items()}
    seconds: dict[str, list[float]] = {name: [] for name in urls}
    for client in clients.values():  # warm-up: connections, caches
        for body in bodies[:50]:
            client.post("/v1/models/adult/predict", content=body)
    for start in range(0, n_requests, block):
        for name, client in clients.items():
            for i in range(start, min(start + block, n_requests)):
                began = time.perf_counter()
                response = client.post("/v1/models/adult/predict",
                                       content=bodies[i % len(bodies)])
                seconds[name].append(time.perf_counter() - began)
                if response.status_code != 200:
                    raise SystemExit(f"{name}: {response.status_code} {response.text[:200]}")
    for client in clients.values():
        client.close()
    return seconds


async def _concurrent_block(url: str, bodies: list[bytes], n_requests: int,
                            n_clients: int) -> float:
    import httpx

    async with httpx.AsyncClient(base_url=url, limits=httpx.Limits(
            max_connections=n_clients), headers={"content-type": "application/json"}) as client:
        queue = iter(range(n_requests))

        async def worker() -> None:
            for i in queue:
                await client.post("/v1/models/adult/predict", content=bodies[i % len(bodies)])

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(n_clients)))
        return time.perf_counter() - began


def concurrent(urls: dict[str, str], bodies: list[bytes], *, n_requests: int, block: int,
               n_clients: int = 8) -> dict[str, float]:
    """Requests a second with ``n_clients`` at once, over blocks taken in turns."""
    spent = dict.fromkeys(urls, 0.0)
    done = dict.fromkeys(urls, 0)
    for start in range(0, n_requests, block):
        size = min(block, n_requests - start)
        for name, url in urls.items():
            spent[name] += asyncio.run(_concurrent_block(url, bodies, size, n_clients))
            done[name] += size
    return {name: done[name] / spent[name] for name in urls}


# ---- in-process -------------------------------------------------------------------------------
def in_process(loaded: Any, bodies: list[bytes], *, n_requests: int, block: int,
               log_root: Path) -> dict[str, list[float]]:
    """The ASGI app called directly (no HTTP): request in, answer sent, record queued."""
    log = _log("on", log_root).start()
    apps = {"off": _app(loaded, None), "on": _app(loaded, log)}

    async def call(app: Any, body: bytes) -> None:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": "/v1/models/adult/predict",
                 "raw_path": b"/v1/models/adult/predict", "root_path": "",
                 "headers": [(b"content-type", b"application/json"),
                             (b"content-length", str(len(body)).encode())],
                 "query_string": b"", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2)}
        sent = False

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal sent
            sent = sent or message["type"] == "http.response.body"

        await app(scope, receive, send)
        if not sent:
            raise SystemExit("the app sent no answer")

    async def run() -> dict[str, list[float]]:
        seconds: dict[str, list[float]] = {"off": [], "on": []}
        for mode, app in apps.items():
            for body in bodies[:100]:
                await call(app, body)
        for start in range(0, n_requests, block):
            for mode, app in apps.items():
                for i in range(start, min(start + block, n_requests)):
                    began = time.perf_counter()
                    await call(app, bodies[i % len(bodies)])
                    seconds[mode].append(time.perf_counter() - began)
        return seconds

    try:
        return asyncio.run(run())
    finally:
        log.close()


def _row(name: str, seconds: list[float], rate: float | None) -> str:
    ms = np.asarray(seconds) * 1000
    p50, p95 = np.percentile(ms, 50), np.percentile(ms, 95)
    shown = f"{rate:,.0f}" if rate is not None else f"{len(ms) / ms.sum() * 1000:,.0f}"
    return f"| {name} | {len(ms):,} | {p50:.3f} | {p95:.3f} | {shown} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", choices=["on", "off"])
    parser.add_argument("--port", type=int)
    parser.add_argument("--log-root", type=Path)
    parser.add_argument("--requests", type=int, default=3_000, help="per server and phase")
    parser.add_argument("--block", type=int, default=250)
    parser.add_argument("--baseline-src", type=Path,
                        help="a src/ folder of the code before the log, served as 'before'")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.log_root)
        return

    import orjson

    loaded, records = build_model()
    bodies = [orjson.dumps({"records": [r]}) for r in records]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        servers = {"log off": _start("off", root / "off", src=None),
                   "log on (all)": _start("on", root / "on", src=None)}
        if args.baseline_src:
            servers["before (no log code)"] = _start("off", root / "before",
                                                     src=args.baseline_src)
        urls = {name: url for name, (_, url) in servers.items()}
        try:
            latency = one_at_a_time(urls, bodies, n_requests=args.requests, block=args.block)
            rates = concurrent(urls, bodies, n_requests=args.requests, block=args.block)
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(timeout=30)
        logged = sum(1 for _ in (root / "on").rglob("*.parquet"))
        inside = in_process(loaded, bodies, n_requests=args.requests, block=args.block,
                            log_root=root / "in-process")
    print(f"one-row predictions, {args.requests:,} per server and phase, blocks of "
          f"{args.block} in turns; {os.cpu_count()} CPUs\n")
    print("| over HTTP (127.0.0.1) | requests | p50 ms | p95 ms | 8 clients, req/s |")
    print("|---|---:|---:|---:|---:|")
    for name in urls:
        print(_row(name, latency[name], rates[name]))
    p50 = {name: statistics.median(s) for name, s in latency.items()}
    print(f"\nlog on vs off at p50: {100 * (p50['log on (all)'] / p50['log off'] - 1):+.1f} %; "
          f"throughput {100 * (rates['log on (all)'] / rates['log off'] - 1):+.1f} % "
          f"({logged} Parquet files written by the 'on' server)\n")
    print("| in-process (ASGI, no HTTP) | requests | p50 ms | p95 ms | one caller, req/s |")
    print("|---|---:|---:|---:|---:|")
    for mode, name in (("off", "log off"), ("on", "log on (all)")):
        print(_row(name, inside[mode], None))
    inner = {mode: statistics.median(s) for mode, s in inside.items()}
    print(f"\nin-process, log on vs off at p50: {100 * (inner['on'] / inner['off'] - 1):+.1f} %"
          f" ({1e6 * (inner['on'] - inner['off']):+.1f} µs)")


if __name__ == "__main__":
    main()
