"""The platform's prediction router: one-row predictions through `trainforge server`'s
``/v1/models/{name}/predict`` (token check, router, serving's handler) with 8 and 64
concurrent clients over loopback, beside `trainforge serve` answering the same model.

    python benchmarks/server/bench_router.py                # 60 s per load run, ~5 minutes
    python benchmarks/server/bench_router.py --seconds 10   # a quick look

The model and the load are those of ``benchmarks/serving/bench_serving.py`` (LightGBM, 100
trees, after trainforge's "tree" preprocessing, fitted on 80 % of adult; one held-out row per
request; ``wrk`` with one thread, else the asyncio client in its own process). Here the model is
registered in a fresh workspace, deployed with ``POST /api/v1/deployments``, and every request
carries a viewer's Bearer token. Results: a Markdown table, and ``results.json`` beside this file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one-row predictions: OpenMP only adds latency
import subprocess
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "serving"))
import bench_serving  # the same model and load generators as `trainforge serve`'s

CLIENTS = (8, 64)


def _with_token(token: str) -> None:
    """Make bench_serving's load generators send ``Authorization: Bearer token``."""
    bench_serving.WRK_SCRIPT = bench_serving.WRK_SCRIPT.replace(
        'wrk.method = "POST"\n', f'wrk.method = "POST"\nwrk.headers["Authorization"] = '
                                 f'"Bearer {token}"\n')


def prepare(home: Path) -> tuple[str, bytes]:
    """Register the benchmark model in a workspace at ``home``; a viewer token and a body."""
    import orjson

    from trainforge.store import access
    from trainforge.workspace import Workspace

    loaded, records = bench_serving.build_model()
    workspace = Workspace(home)
    workspace.registry.register(loaded.model, name="adult", metrics={}, lineage={})
    token, _ = access.create_token(workspace, name="bench", role="viewer")
    workspace.close()
    return token, orjson.dumps({"records": records[:1]})


def run_platform(port: int, home: Path) -> None:
    """``--serve-platform PORT HOME``: the platform app, run as bench_serving runs serve."""
    import uvicorn

    from trainforge.server.app import create_server_app
    from trainforge.workspace import Workspace

    uvicorn.run(create_server_app(Workspace(home)), host="127.0.0.1", port=port, workers=1,
                access_log=False, http="httptools", loop="uvloop", log_level="warning")


def deploy(port: int, home: Path) -> None:
    import httpx

    from trainforge.store import access
    from trainforge.workspace import Workspace

    editor, _ = access.create_token(Workspace(home), name="bench-deploy", role="editor")
    answer = httpx.post(f"http://127.0.0.1:{port}/api/v1/deployments", json={"model": "adult"},
                        headers={"Authorization": f"Bearer {editor}"}, timeout=120)
    answer.raise_for_status()


def measure(kind: str, home: Path, body: bytes, seconds: float) -> dict[str, Any]:
    port = bench_serving._free_port()
    command = ([sys.executable, __file__, "--serve-platform", str(port), str(home)]
               if kind == "router" else
               [sys.executable, bench_serving.__file__, "--serve", str(port)])
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results: dict[str, Any] = {}
    try:
        if kind == "router":
            bench_serving._wait_healthy(port, server, path="/docs")
            deploy(port, home)
        else:
            bench_serving._wait_healthy(port, server, path="/health")
        bench_serving.measure_load(port, body, name="adult", clients=8, seconds=3)  # warm-up
        for clients in CLIENTS:
            results[f"{clients}_clients"] = bench_serving.measure_load(
                port, body, name="adult", clients=clients, seconds=seconds)
            results[f"{clients}_clients"]["load_average"] = os.getloadavg()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--serve-platform", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_platform:
        run_platform(int(args.serve_platform[0]), Path(args.serve_platform[1]))
        return
    if not bench_serving.shutil.which("wrk"):
        sys.exit("install wrk (Debian: apt-get install wrk): the asyncio client sends no token")
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        token, body = prepare(home)
        _with_token(token)
        results = {"router": measure("router", home, body, args.seconds),
                   "serve": measure("serve", home, body, args.seconds),
                   "seconds": args.seconds}
    (HERE / "results.json").write_text(json.dumps(results, indent=1))
    print("| one-row requests | clients | p50 | p99 | requests/s | errors |\n|---|---|---|---|---|---|")
    for kind, label in (("router", "`trainforge server` router (token)"),
                        ("serve", "`trainforge serve`")):
        for clients in CLIENTS:
            r = results[kind][f"{clients}_clients"]
            print(f"| {label} | {clients} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | "
                  f"{r['requests_per_s']:,.0f} | {r['errors']} of {r['requests']:,} |")


if __name__ == "__main__":
    main()
