"""Explanations of served predictions: per-row latency and exactness.

    python benchmarks/explain/explain_latency.py                    # ~3 minutes, trains once
    python benchmarks/explain/explain_latency.py --home /tmp/tf-x   # reuse that trained model
    python benchmarks/explain/explain_latency.py --skip-http        # in-process only

The model is what `trainforge train` makes by default (AutoML, then a blend of the best
members) on the benchmark suite's adult table (``../shared/bench/data/adult.csv.gz``, 48,842
rows, 14 columns, 8 categorical), with ``--time-budget 120 --seed 0`` (30 s, the suite's budget, makes a single LightGBM),
registered in a workspace of its own (``--home``; trained only when it holds no model yet).

Measured, over 300 held-out rows, one row a request, each row once after 20 warm-up rows:
- in process: the served answer without and with explanations (validation, prediction,
  contributions, JSON), the route's own work without HTTP;
- over loopback: ``POST /v1/models/adult/predict`` and ``…?explain=true`` to the model served
  by ``trainforge.serving.build_server`` in its own process on 127.0.0.1 (one client, one
  request at a time, bounded by count; the server is stopped at the end);
- exactness: max |base + sum(contributions) − output| over 200 rows, for the blend and for
  each tree member type (LightGBM, XGBoost, CatBoost, random forest, extra trees, each fitted
  with its catalog defaults on 5,000 training rows with trainforge's tree preprocessing).

On the original code (no ``trainforge.serving.explain``) only the plain predict figures are
printed. Timings on a shared machine are noisy: run it a few times and take medians.
"""

from __future__ import annotations

import argparse
import http.client
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one row at a time: a thread pool only adds
import importlib.util
import inspect
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

ADULT = Path(__file__).resolve().parents[3] / "shared" / "bench" / "data" / "adult.csv.gz"
N_ROWS, WARM_UP = 300, 20
HAS_EXPLAIN = importlib.util.find_spec("trainforge.serving.explain") is not None


def _records(rows: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v)
             for k, v in row.items()} for row in rows.to_dict("records")]


def _split() -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = pd.read_csv(ADULT).sample(frac=1.0, random_state=0).reset_index(drop=True)
    cut = int(len(frame) * 0.8)
    return frame.iloc[:cut], frame.iloc[cut:]


def trained(home: Path, *, time_budget_s: int) -> Any:
    """The default `trainforge train` blend on adult, trained once into ``home``."""
    os.environ["TRAINFORGE_HOME"] = str(home)
    from trainforge.errors import ModelNotFound
    from trainforge.workspace import Workspace

    workspace = Workspace()
    try:
        return workspace.registry.load("adult")
    except ModelNotFound:  # not trained yet
        train, _ = _split()
        data = home / "adult-train.csv"
        train.to_csv(data, index=False)
        done = subprocess.run([sys.executable, "-m", "trainforge", "train", str(data),
                               "--target", "class", "--time-budget", str(time_budget_s), "--seed", "0",
                               "--name", "adult"], env={**os.environ}, check=False,
                              capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:]) from None
        return Workspace().registry.load("adult")


def _percentiles(seconds: list[float]) -> str:
    ms = np.asarray(seconds) * 1e3
    return f"p50 {np.percentile(ms, 50):.2f} ms, p95 {np.percentile(ms, 95):.2f} ms"


def _timed(fn: Any, bodies: list[bytes], *, clock: Any = time.perf_counter) -> list[float]:
    """Seconds per call by ``clock``: wall time, or ``time.thread_time`` (the CPU the call
    took: what its latency is on an idle core, steadier on a shared machine)."""
    for body in bodies[:WARM_UP]:
        fn(body)
    times = []
    for body in bodies[WARM_UP:]:
        started = clock()
        fn(body)
        times.append(clock() - started)
    return times


def _both(label: str, fn: Any, bodies: list[bytes]) -> None:
    print(f"- in process, {label}: wall {_percentiles(_timed(fn, bodies))}; "
          f"CPU {_percentiles(_timed(fn, bodies, clock=time.thread_time))}")


def in_process(loaded: Any, bodies: list[bytes]) -> None:
    from trainforge.serving.served import ServedModel

    served = ServedModel(loaded)
    _both("predict", lambda b: orjson.dumps(served.answer(served.signature.parse_request(b))),
          bodies)
    if not HAS_EXPLAIN:
        return
    from trainforge.serving.app import _explained_answer
    from trainforge.serving.explain import ServedExplainer

    explainer = ServedExplainer(served)
    started = time.perf_counter()
    explainer.explainer()
    print(f"- first explain builds the explainer: {time.perf_counter() - started:.2f} s")
    from trainforge.serving import tree_shap

    if hasattr(tree_shap.LeafPaths, "table_bytes"):  # the weight tables (issue 14, latency)
        try:  # the readers have their own module since session s28
            from trainforge.serving.tree_readers import leaf_paths
        except ImportError:
            leaf_paths = tree_shap.leaf_paths
        walked = [leaf_paths(m.estimator) for m in loaded.model.members]
        held = sum(paths.table_bytes for paths in walked if paths is not None)
        print(f"- the walked boosters' weight tables: {held / 2**20:.1f} MiB")

    def explain(body: bytes) -> bytes:
        answer = _explained_answer(served, explainer, body, max_records=10_000,
                                   **_top_5(_explained_answer))
        return orjson.dumps(answer.body)

    _both("predict + explain", explain, bodies)
    served_error = max(_served_error(served, explainer, body) for body in bodies[:200])
    print(f"- served (walked boosters, one row a request), 200 rows: max |base + sum - output| "
          f"{served_error:.1e}")


def _top_5(explained_answer: Any) -> dict[str, Any]:
    """Five contributions, as this tree's ``_explained_answer`` is asked for them."""
    if "query" in inspect.signature(explained_answer).parameters:  # networks' steps (later)
        from trainforge.serving.explain import ExplainQuery

        return {"query": ExplainQuery(top_k=5)}
    return {"top_k": 5}


def _served_error(served: Any, explainer: Any, body: bytes) -> float:
    from trainforge.serving.explain import shown_outputs

    columns = served.signature.parse_request(body)
    explained = explainer.explain(columns)
    outputs = served.scored_outputs(columns)
    outputs = outputs if outputs.ndim == 2 else outputs.reshape(-1, 1)
    shown = shown_outputs(explained)
    return float(np.abs(explained.explained[:, shown] - outputs[:, shown]).max())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served_adult(env: dict[str, str]) -> Iterator[tuple[Any, int]]:
    """An httpx client of the workspace's ``adult`` served by ``build_server`` in its own
    process on 127.0.0.1, run with ``env`` (its PYTHONPATH picks the source tree), and its
    port; stopped at the end."""
    import httpx

    port = _free_port()
    script = ("from trainforge.serving.server import build_server\n"
              "from trainforge.workspace import Workspace\n"
              "loaded = Workspace().registry.load('adult')\n"
              f"build_server([loaded], host='127.0.0.1', port={port}).run()\n")
    server = subprocess.Popen([sys.executable, "-c", script], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            yield client, port
    finally:
        server.terminate()
        server.wait(timeout=30)


def over_loopback(home: Path, bodies: list[bytes]) -> None:
    headers = {"content-type": "application/json"}
    with served_adult({**os.environ}) as (client, port):
        routes = {"predict": "/v1/models/adult/predict"}
        if HAS_EXPLAIN:
            routes["predict?explain=true"] = "/v1/models/adult/predict?explain=true"
        for label, url in routes.items():
            def post(body: bytes, url: str = url) -> None:
                assert client.post(url, content=body, headers=headers).status_code == 200
            print(f"- loopback HTTP, {label}: {_percentiles(_timed(post, bodies))}")
        # the same requests from the standard library's client, one kept-alive connection:
        # httpx's own Python costs ~0.5 ms a request, which is the client's, not the server's
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for label, url in routes.items():
                def send(body: bytes, url: str = url) -> None:
                    connection.request("POST", url, body=body, headers=headers)
                    answer = connection.getresponse()
                    answer.read()
                    assert answer.status == 200
                print(f"- loopback HTTP (http.client), {label}: "
                      f"{_percentiles(_timed(send, bodies))}")
        finally:
            connection.close()


def _outputs(model: Any, rows: pd.DataFrame) -> np.ndarray:
    if model.task.kind.is_classification:
        return np.asarray(model.predict_proba(rows))
    return np.asarray(model.predict(rows)).reshape(-1, 1)


def exactness(loaded: Any) -> None:
    from trainforge.algorithms import catalog
    from trainforge.algorithms.contributions import ModelExplainer, permuted_members
    from trainforge.algorithms.model import Member, TabularModel, coerce_frame

    model = loaded.model
    train, test = _split()
    rows = test.drop(columns=["class"]).head(200)
    permuted = permuted_members(model)
    background = train.drop(columns=["class"]).sample(n=25, random_state=0) if permuted else None
    explained = ModelExplainer(model, background=background).explain(rows)
    error = np.abs(explained.explained - _outputs(model, rows)).max()
    members = ", ".join(f"{m.algorithm} ×{m.weight:g}" for m in model.members)
    print(f"- blend ({members}; by permutation: {', '.join(permuted) or 'none'}): "
          f"max error {error:.1e}")
    sample = train.sample(n=5_000, random_state=0)
    X = coerce_frame(sample, model.features)
    classes = np.asarray(model.classes, dtype=object)
    y = np.searchsorted(classes, sample["class"].astype(str).to_numpy(dtype=object))
    tree_member = next(m for m in model.members if m.preprocessor.style == "tree")
    for name in ("lightgbm", "xgboost", "catboost", "random_forest", "extra_trees"):
        algorithm = catalog.get(name)
        estimator = algorithm.build(dict(algorithm.defaults), model.task, 0)
        if hasattr(estimator, "n_jobs"):
            estimator.n_jobs = 1
        pre = tree_member.preprocessor
        estimator.fit(pre.transform(X), y)
        single = TabularModel(task=model.task, features=model.features, members=[
            Member(algorithm=name, params={}, preprocessor=pre, estimator=estimator)])
        got = ModelExplainer(single).explain(rows)
        error = np.abs(got.explained - _outputs(single, rows)).max()
        print(f"- {name}: max error {error:.1e} (probability)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--time-budget", type=int, default=120,
                        help="seconds `trainforge train` searches (when it trains)")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-exactness", action="store_true")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="tf-explain-"))
    home.mkdir(parents=True, exist_ok=True)
    loaded = trained(home, time_budget_s=args.time_budget)
    print(f"model {loaded.ref}: " + ", ".join(f"{m.algorithm} ×{m.weight:g}"
                                              for m in loaded.model.members))
    _, test = _split()
    records = _records(test.drop(columns=["class"]).head(N_ROWS + WARM_UP))
    bodies = [orjson.dumps({"records": [r]}) for r in records]
    print(f"\n{N_ROWS} one-row requests ({os.cpu_count()} CPUs, shared):")
    in_process(loaded, bodies)
    if not args.skip_http:
        over_loopback(home, bodies)
    if HAS_EXPLAIN and not args.skip_exactness:
        print("\nexactness over 200 held-out rows:")
        exactness(loaded)


if __name__ == "__main__":
    main()
