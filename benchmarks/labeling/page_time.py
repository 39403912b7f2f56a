"""Server time per item of the labeling page with 100,000 items in a project, and the time
until the queue reorders after a new label.

    python benchmarks/labeling/page_time.py [--items 100000] [--labels 200]
                                            [--refit on|paused] [--profile 100]

A text project is made from examples/sms_spam.csv's messages, repeated (each copy numbered)
up to ``--items``; an annotator then labels ``--labels`` items through the app in this
process (FastAPI's TestClient: no network, the app's own time plus the ASGI call), each
label answered by the labeling page's next-item fragment, the way the browser labels. The
quick models refit as in the server. Printed: p50/p95 of the page's answer, before
and after the quick model orders the queue, of the REST next-item call, and the seconds
from a new label to the queue reordered on it (a refit finished with that label).

``--refit paused``: the refit process is stopped (SIGSTOP) once its first order has
arrived, so the page keeps that order and its highlights but nothing refits beside it: what
the page itself costs. ``--profile N``: then N more labels and next-item pages are run
in this thread under cProfile (without the ASGI call), and the costliest functions printed.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import signal
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
from fastapi.testclient import TestClient

from trainforge.config import ServerConfig
from trainforge.jobs.labeling import create_project, label_item
from trainforge.server.app import create_server_app
from trainforge.server.auth import SESSION_COOKIE
from trainforge.server.ui.labeling import _fragment
from trainforge.store import access
from trainforge.store.labeling import count_labels
from trainforge.workspace import Workspace

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _percentiles(times_s: list[float]) -> str:
    ms = sorted(t * 1000 for t in times_s)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"p50 {statistics.median(ms):6.1f} ms  p95 {p95:6.1f} ms  (n={len(ms)})"


def _table(folder: Path, n_items: int) -> tuple[Path, list[str]]:
    sms = pd.read_csv(EXAMPLES / "sms_spam.csv")
    copies = -(-n_items // len(sms))
    frame = pd.concat([sms.assign(text=sms["text"] + f" #{copy}") for copy in range(copies)],
                      ignore_index=True).head(n_items)
    truth = frame["label"].tolist()
    frame["label"] = None
    path = folder / "items.csv"
    frame.to_csv(path, index=False)
    return path, truth


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--labels", type=int, default=200)
    parser.add_argument("--refit", choices=("on", "paused"), default="on")
    parser.add_argument("--profile", type=int, default=0)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="labeling-bench-"))
    workspace = Workspace(folder / "home")
    table, truth = _table(folder, args.items)
    started = time.perf_counter()
    create_project(workspace, "bench", table, classes="ham,spam", text_column="text")
    print(f"project of {args.items:,} items made in {time.perf_counter() - started:.1f} s")
    access.create_user(workspace, username="ann", password="a long password", role="annotator")
    secret, csrf = access.create_session(workspace, "ann")
    token, _ = access.create_token(workspace, name="bench", role="annotator")
    with TestClient(create_server_app(workspace, ServerConfig())) as client:
        client.cookies.set(SESSION_COOKIE, secret)
        models = client.app.state.quick_models
        page = client.get("/labeling/bench/label")
        item = int(page.text.split('data-item="')[1].split('"')[0])
        before: list[float] = []
        after: list[float] = []
        rest: list[float] = []
        reorders: list[float] = []
        for n in range(args.labels):
            fits = models.fits
            start = time.perf_counter()
            answer = client.post("/ui/labeling/bench/label", headers={"X-CSRF-Token": csrf},
                                 data={"item": str(item), "label": truth[item]})
            took = time.perf_counter() - start
            (after if models.latest(1) is not None else before).append(took)
            item = int(answer.text.split('data-item="')[1].split('"')[0])
            start = time.perf_counter()
            client.get("/api/v1/labeling/projects/bench/next",
                       headers={"Authorization": f"Bearer {token}"})
            rest.append(time.perf_counter() - start)
            # wait for this label's refit: the time until the queue reorders (paused: once)
            if n % 20 == 19 and not (args.refit == "paused" and reorders):
                labelled = count_labels(workspace, 1)
                while not (models.fits > fits and models.latest(1) is not None
                           and models.latest(1).n_labels >= labelled):
                    time.sleep(0.005)
                reorders.append(time.perf_counter() - start - rest[-1])
                if args.refit == "paused" and models.pid is not None:
                    os.kill(models.pid, signal.SIGSTOP)
        if args.profile:
            _profile(client.app, truth, item, n_labels=args.profile)
        if args.refit == "paused" and models.pid is not None:
            os.kill(models.pid, signal.SIGCONT)  # so that it can stop with the app
    print(f"label + next item page, source order:        {_percentiles(before)}")
    print(f"label + next item page, quick model's order: {_percentiles(after)}")
    print(f"REST next item:                              {_percentiles(rest)}")
    print(f"new label -> queue reordered: median {statistics.median(reorders):.2f} s, "
          f"max {max(reorders):.2f} s (n={len(reorders)})")


def _profile(app: object, truth: list[str], item: int, *, n_labels: int) -> None:
    """Label ``n_labels`` items and make each next-item fragment, in this thread, under
    cProfile: what the page's own Python work is spent on."""
    request = SimpleNamespace(app=app)
    models = app.state.quick_models  # type: ignore[attr-defined]
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n_labels):
        label_item(app.state.workspace, "bench", item, annotator="ann",  # type: ignore[attr-defined]
                   label=truth[item], changed=models.labels_changed)
        html = _fragment(request, "ann", "bench").body.decode()  # type: ignore[arg-type]
        item = int(html.split('data-item="')[1].split('"')[0])
    profiler.disable()
    print(f"\nprofile of {n_labels} labels + next-item fragments (cumulative time):")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(22)


if __name__ == "__main__":
    main()
