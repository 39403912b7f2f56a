"""The whole loop on real drifting streams (issue 12, "Measured": the loop on real streams).

Each stream is replayed in time order through the platform's served endpoint: every batch
(elec2: a day of 48 half-hours; noaa_weather: one day) is predicted by
``POST /v1/models/{name}/predict``, scored, and its true labels are sent back by
``POST /v1/models/{name}/feedback`` once the batch is over (the delay: one batch). The model's
retraining policy (``learn: windows``, ``new_labels``: one elec2 day, 30 noaa days,
``min_interval`` 12h) is then checked as the server's policy checker does
(``jobs.retrain.check_model``, its clock the stream's: one batch is one day); when it fires,
the new version (``trainforge update --method windows``) is deployed through
``POST /api/v1/deployments``. The first 10 % of the stream trains the first version
(``lightgbm``, one trial) and is not scored.

Side by side, on the same rows and with the same one-batch delay for every label:
(a) static: LightGBM (defaults) on the first 10 %, never changed;
(b) scheduled: LightGBM (defaults) retrained from scratch on all rows seen, every
    ``SCHEDULE`` batches (elec2 weekly, noaa_weather every 30 days: the issue's references);
(c) river's adaptive random forest (``ARFClassifier(seed=0)``, test-then-train: it learns
    each label when its batch's labels arrive).

The platform app runs in this process behind starlette's TestClient (the same ASGI stack as
uvicorn, without the socket), as the other monitoring benchmarks do. Accuracy is prequential
over the 90 % after the first 10 %; CPU seconds are this process's (noisy on a shared machine).

    PYTHONPATH=src python benchmarks/monitoring/stream_loop.py elec2 [--batches N]
    PYTHONPATH=src python benchmarks/monitoring/stream_loop.py noaa_weather
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@dataclass(frozen=True)
class Stream:
    name: str
    file: str
    batch: int  # rows predicted together, whose labels come back together
    schedule: int  # batches between the scheduled baseline's retrains
    columns: list[str] | None  # names when the file has no header


STREAMS = {
    "elec2": Stream("elec2", "elec2/elec.csv.gz", 48, 7,
                    ["period", "nswprice", "nswdemand", "vicprice", "vicdemand", "transfer",
                     "label"]),
    "noaa_weather": Stream("noaa_weather", "noaa_weather/weather.csv.gz", 1, 30, None),
}


def load(stream: Stream) -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.read_csv(DATA / stream.file, header=None if stream.columns else "infer",
                        names=stream.columns)
    target = frame.columns[-1]
    return frame.drop(columns=[target]), frame[target].to_numpy().astype(int)


def batches(n_rows: int, start: int, size: int) -> list[slice]:
    return [slice(b, min(b + size, n_rows)) for b in range(start, n_rows, size)]


def first_rows(stream: Stream, n_rows: int) -> int:
    return (n_rows // 10) // stream.batch * stream.batch


def lightgbm(X: np.ndarray, y: np.ndarray) -> object:
    import lightgbm as lgb

    return lgb.LGBMClassifier(verbose=-1, n_jobs=1, random_state=0).fit(X, y)


def static(X: np.ndarray, y: np.ndarray, start: int, parts: list[slice]) -> dict[str, float]:
    began = time.process_time()
    model = lightgbm(X[:start], y[:start])
    right = sum(int((model.predict(X[p]) == y[p]).sum()) for p in parts)  # type: ignore[attr-defined]
    return {"accuracy": right / (len(y) - start), "cpu_s": time.process_time() - began,
            "retrains": 0}


def scheduled(X: np.ndarray, y: np.ndarray, start: int, parts: list[slice], every: int
              ) -> dict[str, float]:
    began = time.process_time()
    answers, retrains = scheduled_answers(X, y, parts, every)
    return {"accuracy": int((answers == y[start:]).sum()) / (len(y) - start),
            "cpu_s": time.process_time() - began, "retrains": retrains}


def scheduled_answers(X: np.ndarray, y: np.ndarray, parts: list[slice], every: int
                      ) -> tuple[np.ndarray, int]:
    """The scheduled retrain's answer for every scored row, and how many times it retrained."""
    answers, retrains, model = [], 0, None
    for i, part in enumerate(parts):
        if i % every == 0:
            model, retrains = lightgbm(X[:part.start], y[:part.start]), retrains + 1
        answers.append(model.predict(X[part]))  # type: ignore[attr-defined]
    return np.concatenate(answers).astype(int), retrains


def river_arf(X: np.ndarray, y: np.ndarray, start: int, parts: list[slice]
              ) -> dict[str, float]:
    from river import forest

    began, right = time.process_time(), 0
    model = forest.ARFClassifier(seed=0)
    rows = [dict(enumerate(map(float, x))) for x in X]
    for i in range(start):
        model.learn_one(rows[i], int(y[i]))
    for part in parts:
        for i in range(part.start, part.stop):
            right += int(model.predict_one(rows[i]) == y[i])
        for i in range(part.start, part.stop):  # the batch's labels arrive: learn them
            model.learn_one(rows[i], int(y[i]))
    return {"accuracy": right / (len(y) - start), "cpu_s": time.process_time() - began,
            "retrains": 0}


def trainforge_loop(stream: Stream, X: pd.DataFrame, y: np.ndarray, start: int,
                    parts: list[slice]) -> dict[str, float]:
    from fastapi.testclient import TestClient

    import trainforge as tf
    from trainforge.config import RetrainPolicy, ServerConfig
    from trainforge.jobs.retrain import check_model, set_policy
    from trainforge.monitoring.retrain import no_drift_measured
    from trainforge.server.app import create_server_app
    from trainforge.store import access
    from trainforge.workspace import Workspace

    began = time.process_time()
    with tempfile.TemporaryDirectory() as home:
        first = Path(home) / f"{stream.name}.csv"
        X.iloc[:start].assign(label=y[:start]).to_csv(first, index=False)
        ws = Workspace(Path(home) / "ws")
        tf.train(first, target="label", name="stream", algorithm="lightgbm", trials=1,
                 workspace=ws)
        every = stream.batch * (30 if stream.batch == 1 else 1)
        set_policy(ws, "stream", RetrainPolicy(new_labels=every, learn="windows",
                                               min_interval="12h"), updated_by="bench")
        token, _ = access.create_token(ws, name="bench", role="editor")
        auth = {"Authorization": f"Bearer {token}"}
        right, updates, failed, update_s, version = 0, 0, 0, 0.0, 1
        records = X.to_dict(orient="records")
        clock, days_per_batch = datetime.now(UTC), 1
        with TestClient(create_server_app(ws, ServerConfig())) as client:
            log = client.app.state.prediction_log  # type: ignore[attr-defined]
            client.post("/api/v1/deployments", json={"model": "stream:1"}, headers=auth)
            for i, part in enumerate(parts):
                answer = client.post("/v1/models/stream/predict", headers=auth,
                                     json={"records": records[part]})
                assert answer.status_code == 200, answer.text
                shown = answer.json()
                predicted = np.asarray([int(p) for p in shown["predictions"]])
                right += int((predicted == y[part]).sum())
                log.flush()  # the log writes off the request path: labels follow it
                request_id = answer.headers["X-Request-Id"]
                labels = [{"request_id": request_id, "row": r, "label": str(y[part][r])}
                          for r in range(part.stop - part.start)]
                sent = client.post("/v1/models/stream/feedback", headers=auth,
                                   json={"records": labels})
                assert sent.status_code == 200, sent.text
                if (i + 1) % (every // stream.batch):
                    continue  # the server checks every minute; here, once enough labels are in
                checked = time.perf_counter()
                # the policy's clock is the stream's: a batch is a day (min_interval counts days
                # of the stream, not the seconds this replay takes)
                check = check_model(ws, "stream", drifted_features=no_drift_measured,
                                    now=clock + timedelta(days=(i + 1) * days_per_batch))
                if check.event is not None and check.event["outcome"] == "succeeded":
                    version = int(check.event["model_version"])
                    deployed = client.post("/api/v1/deployments", headers=auth,
                                           json={"model": f"stream:{version}"})
                    assert deployed.status_code in (200, 201), deployed.text
                    updates += 1
                    update_s += time.perf_counter() - checked
                elif check.event is not None and check.event["outcome"] == "failed":
                    failed += 1
                if (i // (every // stream.batch)) % 50 == 0:
                    print(f"  batch {i}/{len(parts)}: accuracy so far "
                          f"{right / (part.stop - start):.4f}, version {version}, "
                          f"{updates} updates", flush=True)
        ws.close()
    return {"accuracy": right / (len(y) - start), "cpu_s": time.process_time() - began,
            "retrains": updates, "failed": failed, "update_s_mean": update_s / max(updates, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("stream", choices=sorted(STREAMS))
    parser.add_argument("--batches", type=int, default=None, help="only the first N batches")
    parser.add_argument("--only", nargs="+", default=["static", "scheduled", "river_arf",
                                                      "trainforge"])
    parser.add_argument("--out", type=Path, default=None, help="append the figures as JSON")
    args = parser.parse_args()
    stream = STREAMS[args.stream]
    X, y = load(stream)
    start = first_rows(stream, len(y))
    parts = batches(len(y), start, stream.batch)
    if args.batches:
        parts = parts[:args.batches]
        X, y = X.iloc[:parts[-1].stop], y[:parts[-1].stop]
    numbers = X.to_numpy(dtype=float)
    methods = {
        "static": lambda: static(numbers, y, start, parts),
        "scheduled": lambda: scheduled(numbers, y, start, parts, stream.schedule),
        "river_arf": lambda: river_arf(numbers, y, start, parts),
        "trainforge": lambda: trainforge_loop(stream, X, y, start, parts),
    }
    print(f"{stream.name}: {len(y):,} rows, first {start:,} train, {len(parts):,} batches "
          f"of {stream.batch}, labels one batch late")
    for name in args.only:
        figures = methods[name]()
        print(f"{name}: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                      for k, v in figures.items()), flush=True)
        if args.out:
            with args.out.open("a") as handle:
                handle.write(json.dumps({"stream": stream.name, "method": name,
                                         "batches": len(parts), **figures}) + "\n")


if __name__ == "__main__":
    main()
