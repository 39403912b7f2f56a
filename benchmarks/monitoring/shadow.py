"""What a shadow costs the champion's answer: the platform's predict route, one record per
request, without and with a challenger in shadow.

    PYTHONPATH=src python benchmarks/monitoring/shadow.py

Two versions of ``credit`` (examples/credit_g.csv, linear, trials=1) in a temporary workspace;
the platform app in this process (starlette's TestClient: the same ASGI stack as uvicorn,
without the socket), a viewer token, ``N_REQUESTS`` sequential requests per round, ``ROUNDS``
rounds, medians of the rounds' medians. With a shadow, the worker thread predicts each
request after its answer was sent, so what it costs the champion is the shared interpreter:
the figure to watch is the champion's latency, and how many shadow rows kept up.
On the original code (no shadow) only the first line is printed.
"""

from __future__ import annotations

import csv
import inspect
import statistics
import tempfile
import time
from pathlib import Path

N_REQUESTS = 400
ROUNDS = 5
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _record() -> dict[str, object]:
    with open(EXAMPLES / "credit_g.csv", newline="") as handle:
        row = next(csv.DictReader(handle))
    row.pop("class")
    return {k: float(v) if v.replace(".", "", 1).isdigit() else v for k, v in row.items()}


def _median_ms(client: object, token: str, body: dict[str, object]) -> float:
    times = []
    for _ in range(N_REQUESTS):
        started = time.perf_counter()
        answer = client.post("/v1/models/credit/predict",  # type: ignore[attr-defined]
                             headers={"Authorization": f"Bearer {token}"}, json=body)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.text
    return statistics.median(times)


def main() -> None:
    from fastapi.testclient import TestClient

    import trainforge as tf
    from trainforge.config import ServerConfig
    from trainforge.server.app import create_server_app
    from trainforge.server.deployments import Deployments
    from trainforge.store import access
    from trainforge.workspace import Workspace

    body = {"records": [_record()]}
    with tempfile.TemporaryDirectory() as home:
        ws = Workspace(Path(home))
        for seed in (0, 1):
            tf.train(EXAMPLES / "credit_g.csv", target="class", name="credit", trials=1,
                     algorithm="linear", seed=seed, workspace=ws)
        token, _ = access.create_token(ws, name="bench", role="editor")
        cases = [("champion alone", {"model": "credit:1"})]
        if "shadow" in inspect.signature(Deployments.deploy).parameters:
            cases.append(("champion + shadow", {"model": "credit:1", "shadow": "credit:2"}))
        for label, deploy in cases:
            with TestClient(create_server_app(ws, ServerConfig())) as client:
                client.post("/api/v1/deployments", json=deploy,
                            headers={"Authorization": f"Bearer {token}"})
                _median_ms(client, token, body)  # warm up
                rounds = [_median_ms(client, token, body) for _ in range(ROUNDS)]
                shadows = client.app.state.deployments.router.shadows if len(cases) > 1 else None
                client.app.state.deployments.stop_following()
            kept = ("" if shadows is None or label == "champion alone" else
                    f"; shadow rows predicted {shadows.stats.predicted_rows:,}, dropped "
                    f"{shadows.stats.dropped_rows:,}, failed {shadows.stats.failed_rows:,}")
            print(f"{label}: median latency {statistics.median(rounds):.3f} ms "
                  f"(rounds {', '.join(f'{r:.3f}' for r in rounds)}){kept}")


if __name__ == "__main__":
    main()
