"""Server time of every web UI page with 1,000 runs in the store (target: under 200 ms each).

    python benchmarks/server/bench_ui.py            # 1,000 runs, 20 requests per page
    python benchmarks/server/bench_ui.py --runs 5000

A fresh workspace gets N finished runs (each with 20 metric points, the shape of a short
training run's curves), N/10 jobs with 5 log lines each, and two registered models (a
clustering model of wine and a logistic regression on credit-g). Each page is then requested
through the app in-process (Starlette's TestClient: no network, so the time is the server's:
routing, session check, store queries, template rendering). Median and worst of the timed
requests are reported after one warm-up request per page.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _fill(workspace, n_runs: int) -> dict[str, str]:
    import sqlalchemy as sa

    import trainforge as tf
    from trainforge.store.clock import utc_now
    from trainforge.store.tables import job_logs, jobs, run_metrics, runs

    examples = ROOT / "examples"
    tf.cluster(examples / "wine.csv", exclude=["cultivar"], method="kmeans", k=3,
               workspace=workspace)
    tf.train(examples / "credit_g.csv", target="class", name="credit", trials=2,
             algorithm="linear", workspace=workspace)
    now = utc_now()
    run_rows, metric_rows, job_rows, log_rows = [], [], [], []
    for index in range(n_runs):
        run_id = uuid.uuid4().hex
        run_rows.append({"id": run_id, "kind": "train", "status": "succeeded",
                         "config": {"data": f"table{index}.csv", "target": "y", "seed": index},
                         "metrics": {"test": {"roc_auc": 0.8}}, "created_at": now,
                         "started_at": now, "finished_at": now, "duration_s": 12.5,
                         "model_name": "credit", "model_version": 1})
        metric_rows += [{"run_id": run_id, "key": "trial0.cnn.train_loss", "step": step,
                         "value": 1.0 / (step + 1), "timestamp": now} for step in range(20)]
        if index % 10 == 0:
            job_id = uuid.uuid4().hex
            job_rows.append({"id": job_id, "kind": "train", "status": "succeeded",
                             "config": {"dataset": "x"}, "submitted_by": "admin",
                             "created_at": now, "attempts": 1, "cancel_requested": False,
                             "run_id": run_id})
            log_rows += [{"job_id": job_id, "at": now, "text": f"line {n}"} for n in range(5)]
    with workspace.engine.begin() as connection:
        connection.execute(sa.insert(runs), run_rows)
        connection.execute(sa.insert(run_metrics), metric_rows)
        connection.execute(sa.insert(jobs), job_rows)
        connection.execute(sa.insert(job_logs), log_rows)
    return {"run": run_rows[-1]["id"], "job": job_rows[-1]["id"],
            "compare": ",".join(r["id"] for r in run_rows[:3])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page")
    args = parser.parse_args()

    from fastapi.testclient import TestClient
    from tests.server._ui import log_in

    from trainforge.config import ServerConfig
    from trainforge.server.app import create_server_app
    from trainforge.store import access
    from trainforge.workspace import Workspace

    workspace = Workspace(Path(tempfile.mkdtemp(prefix="bench-ui-")))
    username, password = access.ensure_first_admin(workspace)
    ids = _fill(workspace, args.runs)
    client = TestClient(create_server_app(workspace, ServerConfig()))
    log_in(client, username, password)
    client.post("/ui/deployments", data={"model": "credit"}, headers={"X-CSRF-Token": "x"})
    pages = ["/", "/datasets", "/jobs", f"/jobs/{ids['job']}", "/runs", f"/runs/{ids['run']}",
             f"/runs/{ids['run']}/series", f"/runs/compare?ids={ids['compare']}", "/models",
             "/models/credit", "/models/credit/1/report", "/deployments", "/login"]
    print(f"| page | median ms | worst ms | (of {args.requests}; {args.runs:,} runs, "
          f"{args.runs // 10:,} jobs in the store) |")
    print("|---|---|---|---|")
    for path in pages:
        assert client.get(path).status_code == 200, path
        times = []
        for _ in range(args.requests):
            started = time.perf_counter()
            answer = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200
        shown = "/".join("ID" if len(p) == 32 else p for p in path.split("?")[0].split("/"))
        print(f"| `{shown}` | {statistics.median(times):.1f} | {max(times):.1f} | |")


if __name__ == "__main__":
    main()
