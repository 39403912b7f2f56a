"""Serving speed: one-row latency and 8-client throughput over loopback, beside in-process predict.

    python benchmarks/serving/bench_serving.py                 # everything, ~1 minute
    python benchmarks/serving/bench_serving.py --seconds 5     # shorter load runs
    TRAINFORGE_HOME=... python benchmarks/serving/bench_serving.py --ref adult
        # a model `trainforge train` registered on adult.csv (e.g. an AutoML blend)

The model: LightGBM (trainforge's ``LightGBMModel``, 100 trees, 31 leaves) after trainforge's
"tree" preprocessing, fitted on 80 % of adult (UCI, 14 features, 8 categorical). The server is
``trainforge.serving.build_server`` (uvicorn, one worker, httptools + uvloop) in its own process
on 127.0.0.1. The load comes from ``wrk`` (C, one thread, Lua script for the POST) when it is
installed, else from a small asyncio client in another process; both are bounded by duration
and stop by themselves. Results are printed as a Markdown table and written to
``benchmarks/serving/results.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os

# every process here predicts one row at a time: LightGBM's OpenMP pool only adds latency
# (a 1-row LightGBMModel.predict_proba takes ~10 ms with the pool on a busy 2-core machine)
os.environ.setdefault("OMP_NUM_THREADS", "1")
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ADULT = Path(__file__).resolve().parents[3] / "shared" / "bench" / "data" / "adult.csv.gz"
HERE = Path(__file__).resolve().parent
NUMBERS = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
CATEGORIES = ["workclass", "education", "marital_status", "occupation", "relationship", "race",
              "sex", "native_country"]


# ---- the model --------------------------------------------------------------------------------
def _records(rows: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v)
             for k, v in row.items()} for row in rows.to_dict("records")]


def build_model(ref: str | None = None) -> tuple[Any, list[dict[str, Any]]]:
    """The served model and a few held-out request records.

    With ``ref``, the model is that registered one (it must take adult's columns).
    """
    if ref is not None:
        from trainforge.workspace import Workspace

        rows = pd.read_csv(ADULT).sample(n=200, random_state=1).drop(columns=["class"])
        return Workspace().registry.load(ref), _records(rows)
    from trainforge.algorithms.boosting import LightGBMModel
    from trainforge.algorithms.model import FeatureSpec, Member, TabularModel, coerce_frame
    from trainforge.data.dataset import ColumnKind
    from trainforge.data.prepare import make_preprocessor
    from trainforge.data.task import Task, TaskKind
    from trainforge.registry.loaded import LoadedModel

    frame = pd.read_csv(ADULT).sample(frac=1.0, random_state=0).reset_index(drop=True)
    train, held_out = frame.iloc[: int(len(frame) * 0.8)], frame.iloc[int(len(frame) * 0.8):]
    features = ([FeatureSpec(n, ColumnKind.NUMERIC, "number") for n in NUMBERS]
                + [FeatureSpec(c, ColumnKind.CATEGORICAL, "string") for c in CATEGORIES])
    classes = tuple(sorted(train["class"].unique()))
    codes = np.searchsorted(np.asarray(classes, dtype=object), train["class"].to_numpy(object))
    pre = make_preprocessor({f.name: f.kind for f in features}, [f.name for f in features],
                            style="tree", target_type="binary")
    matrix = pre.fit_transform(coerce_frame(train, features), codes)
    ordinal = tuple(i for i, s in enumerate(pre.plan_) if s["op"] == "ordinal")
    estimator = LightGBMModel(task_kind="binary", n_estimators=100, num_leaves=31,
                              categorical_features=ordinal, n_threads=1).fit(matrix, codes)
    task = Task(target="class", kind=TaskKind.BINARY, metric="roc_auc", classes=classes)
    model = TabularModel(task=task, features=features, members=[
        Member(algorithm="lightgbm", params={}, preprocessor=pre, estimator=estimator)])
    loaded = LoadedModel(name="adult", version=1, model=model, manifest={}, path=HERE)
    return loaded, _records(held_out.drop(columns=["class"]).head(200))


# ---- in-process -------------------------------------------------------------------------------
def _median_us(fn: Any, number: int) -> float:
    runs = [timeit.timeit(fn, number=number) / number for _ in range(7)]
    return statistics.median(runs) * 1e6


def in_process(loaded: Any, records: list[dict[str, Any]]) -> dict[str, float]:
    import orjson

    from trainforge.algorithms.model import coerce_frame
    from trainforge.serving.served import ServedModel

    served = ServedModel(loaded)
    frame = pd.DataFrame(records[:1])
    body = orjson.dumps({"records": records[:1]})
    columns = served.signature.parse_request(body)
    times = {
        "model.predict_proba(1-row DataFrame)": _median_us(
            lambda: loaded.model.predict_proba(frame), 20),
        "fast path: validate + compiled predict + JSON": _median_us(
            lambda: orjson.dumps(served.answer(served.signature.parse_request(body))), 200),
        "fast path: compiled predict only": _median_us(lambda: served.outputs(columns), 200),
    }
    first = loaded.model.members[0]
    if hasattr(first.estimator, "booster_") and len(loaded.model.members) == 1:
        matrix = first.preprocessor.transform(coerce_frame(frame, loaded.model.features))
        times["raw booster.predict (1 row, 1 thread)"] = _median_us(
            lambda: first.estimator.booster_.predict(matrix, num_threads=1), 200)
    return times


# ---- the server -------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def plain_fastapi_app(loaded: Any) -> Any:
    """The baseline: FastAPI's own body parsing, a DataFrame, the model's predict_proba."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.post(f"/v1/models/{loaded.name}/predict")
    def predict(body: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        frame = pd.DataFrame(body["records"])
        proba = loaded.model.predict_proba(frame)
        return {"predictions": [loaded.model.classes[i] for i in proba.argmax(axis=1)],
                "probabilities": [dict(zip(loaded.model.classes, row, strict=True))
                                  for row in proba.tolist()]}

    return app


def run_server(port: int, app_kind: str, ref: str | None) -> None:
    """``--serve PORT``: build the model and serve it until killed."""
    import uvicorn

    from trainforge.serving.server import build_server

    loaded, _ = build_model(ref)
    if app_kind == "plain":
        uvicorn.run(plain_fastapi_app(loaded), host="127.0.0.1", port=port, access_log=False,
                    http="httptools", loop="uvloop", log_level="warning")
        return
    build_server([loaded], host="127.0.0.1", port=port).run()


def _wait_healthy(port: int, server: subprocess.Popen[bytes], *, path: str,
                  timeout_s: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server process exited before it was ready")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("the server did not become healthy in time")


# ---- load: wrk --------------------------------------------------------------------------------
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = %s
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%f %%f %%f\\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout, summary.duration, 0,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


def load_with_wrk(url: str, body: bytes, *, clients: int, seconds: float) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % json.dumps(body.decode()))
    try:
        done = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{seconds:g}s", "-s",
                               script.name, url], capture_output=True, text=True, check=True,
                              timeout=seconds + 60)
    finally:
        os.unlink(script.name)
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("RESULT"))
    n, status_errors, socket_errors, duration_us, _, p50, p99, _ = line.split()[1:]
    return {"requests": int(n), "errors": int(status_errors) + int(socket_errors),
            "requests_per_s": int(n) / (int(duration_us) / 1e6),
            "p50_ms": float(p50) / 1000, "p99_ms": float(p99) / 1000}


# ---- load: asyncio client (when wrk is absent) ------------------------------------------------
async def _client(host: str, port: int, request: bytes, stop_at: float,
                  latencies: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    while time.perf_counter() < stop_at:
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(next(h for h in head.split(b"\r\n")
                          if h.lower().startswith(b"content-length")).split(b":")[1])
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
        if not head.startswith(b"HTTP/1.1 200"):
            errors.append(1)
    writer.close()


def load_with_asyncio(url: str, body: bytes, *, clients: int, seconds: float) -> dict[str, float]:
    _, _, rest = url.partition("//")
    address, _, path = rest.partition("/")
    host, port = address.split(":")
    request = (f"POST /{path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    latencies: list[float] = []
    errors: list[int] = []

    async def run() -> float:
        started = time.perf_counter()
        stop_at = started + seconds
        await asyncio.gather(*[_client(host, int(port), request, stop_at, latencies, errors)
                               for _ in range(clients)])
        return time.perf_counter() - started

    elapsed = asyncio.run(run())
    ordered = sorted(latencies)
    return {"requests": len(ordered), "errors": len(errors),
            "requests_per_s": len(ordered) / elapsed,
            "p50_ms": ordered[len(ordered) // 2] * 1000,
            "p99_ms": ordered[int(len(ordered) * 0.99)] * 1000}


def measure_load(port: int, body: bytes, *, name: str, clients: int,
                 seconds: float) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/v1/models/{name}/predict"
    if shutil.which("wrk"):
        return {"client": "wrk", **load_with_wrk(url, body, clients=clients, seconds=seconds)}
    # the asyncio client runs in its own process so it never shares the server's interpreter
    done = subprocess.run([sys.executable, __file__, "--load", url, "--clients", str(clients),
                           "--seconds", str(seconds)], input=body, capture_output=True,
                          check=True, timeout=seconds + 60)
    return {"client": "asyncio", **json.loads(done.stdout)}


# ---- main -------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ref", help="a registered model trained on adult.csv (NAME[:VERSION])")
    parser.add_argument("--app", choices=["trainforge", "plain"], default="trainforge",
                        help=argparse.SUPPRESS)
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--clients", type=int, default=8, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        run_server(args.serve, args.app, args.ref)
        return
    if args.load:
        print(json.dumps(load_with_asyncio(args.load, sys.stdin.buffer.read(),
                                           clients=args.clients, seconds=args.seconds)))
        return

    import orjson

    loaded, records = build_model(args.ref)
    results: dict[str, Any] = {"model": f"{loaded.ref}: {len(loaded.model.members)} member(s)",
                               "in_process_us": in_process(loaded, records)}
    body = orjson.dumps({"records": records[:1]})
    for app_kind in ("trainforge", "plain"):
        port = _free_port()
        command = [sys.executable, __file__, "--serve", str(port), "--app", app_kind]
        server = subprocess.Popen(command + (["--ref", args.ref] if args.ref else []),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_healthy(port, server, path="/health" if app_kind == "trainforge" else "/docs")
            measure_load(port, body, name=loaded.name, clients=1, seconds=2)  # warm-up
            for label, clients in (("one_client", 1), ("eight_clients", 8)):
                results[f"{app_kind}_{label}"] = measure_load(
                    port, body, name=loaded.name, clients=clients, seconds=args.seconds)
        finally:
            server.terminate()
            server.wait(timeout=30)
    results["load_average"] = os.getloadavg()
    out = HERE / ("results.json" if args.ref is None else "results-registered.json")
    out.write_text(json.dumps(results, indent=1))
    print(f"model: {results['model']}")
    print("| measure | value |\n|---|---|")
    for name, value in results["in_process_us"].items():
        print(f"| in-process: {name} | {value / 1000:.3f} ms |")
    for label in ("trainforge_one_client", "trainforge_eight_clients", "plain_one_client",
                  "plain_eight_clients"):
        r = results[label]
        print(f"| HTTP, {label.replace('_', ' ')} ({r['client']}) | p50 {r['p50_ms']:.2f} ms, "
              f"p99 {r['p99_ms']:.2f} ms, {r['requests_per_s']:.0f} req/s, "
              f"{r['errors']} errors of {r['requests']} |")
    print(f"load average during the run: {results['load_average']}")


if __name__ == "__main__":
    main()
