"""A server process's serving usage, written to the store by its flusher: per deployment and
day, its own row, summed with other processes' by readers; a store error loses nothing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import sqlalchemy as sa

from trainforge.serving.metrics import ServingMetrics
from trainforge.serving.usage import UsageFlusher
from trainforge.store.tables import metadata
from trainforge.store.usage import usage_by_day
from trainforge.workspace import Workspace

PREDICT = "/v1/models/{name}/predict"


def served(metrics: ServingMetrics, ref: str, *, requests: int, rows: int = 1,
           cpu_s: float = 0.01) -> None:
    for _ in range(requests):
        metrics.record(ref, PREDICT, 200, 0.001, n_predictions=rows, cpu_s=cpu_s)


def flusher(store: object, metrics: ServingMetrics, deployed: dict[str, str], *,
            process: str = "host:1", day: list[str] | None = None) -> UsageFlusher:
    days = day or ["2026-03-01"]
    return UsageFlusher(store, metrics, served=lambda: deployed,  # type: ignore[arg-type]
                        process=process, today=lambda: days[0])


def test_two_processes_rows_sum_to_the_deployments_usage(tmp_path: Path):
    workspace = Workspace(tmp_path / "home")
    first, second = ServingMetrics(), ServingMetrics()
    served(first, "credit:1", requests=3, rows=2, cpu_s=0.5)
    served(second, "credit:1", requests=4, rows=1, cpu_s=0.25)
    flusher(workspace, first, {"credit": "credit:1"}, process="a:1").flush()
    flusher(workspace, second, {"credit": "credit:1"}, process="b:2").flush()
    [day] = usage_by_day(workspace, since="2026-03-01")
    assert (day["requests"], day["predictions"], day["processes"]) == (7, 10, 2)
    assert day["cpu_s"] == 3 * 0.5 + 4 * 0.25


def test_a_process_rewrites_its_own_row_with_its_days_totals(tmp_path: Path):
    workspace = Workspace(tmp_path / "home")
    metrics = ServingMetrics()
    writer = flusher(workspace, metrics, {"credit": "credit:1"})
    served(metrics, "credit:1", requests=2)
    writer.flush()
    served(metrics, "credit:1", requests=3)
    writer.flush()
    [day] = usage_by_day(workspace, since="2026-03-01")
    assert (day["requests"], day["processes"]) == (5, 1)


def test_a_new_day_starts_from_zero_and_leaves_the_last_days_row(tmp_path: Path):
    workspace = Workspace(tmp_path / "home")
    metrics, day = ServingMetrics(), ["2026-03-01"]
    writer = flusher(workspace, metrics, {"credit": "credit:1"}, day=day)
    served(metrics, "credit:1", requests=2)
    writer.flush()
    day[0] = "2026-03-02"
    served(metrics, "credit:1", requests=5)
    writer.flush()
    rows = usage_by_day(workspace, since="2026-03-01")
    assert [(r["day"], r["requests"]) for r in rows] == [("2026-03-01", 2), ("2026-03-02", 5)]


def test_a_redeployed_name_counts_both_versions_it_served(tmp_path: Path):
    workspace = Workspace(tmp_path / "home")
    metrics, deployed = ServingMetrics(), {"credit": "credit:1"}
    writer = flusher(workspace, metrics, deployed)
    writer.flush()
    served(metrics, "credit:1", requests=2)  # answered by version 1 after that flush...
    deployed["credit"] = "credit:2"  # ...which is replaced before the next one
    served(metrics, "credit:2", requests=3)
    writer.flush()
    [day] = usage_by_day(workspace, since="2026-03-01")
    assert day["requests"] == 5


def test_requests_for_no_deployment_are_not_counted_for_any(tmp_path: Path):
    workspace = Workspace(tmp_path / "home")
    metrics = ServingMetrics()
    metrics.record("", PREDICT, 404, 0.0)  # an unknown name
    flusher(workspace, metrics, {"credit": "credit:1"}).flush()
    assert usage_by_day(workspace, since="2026-03-01") == []


def written_requests(engine: sa.Engine) -> list[tuple[int]]:
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in
                    connection.execute(sa.text("SELECT requests FROM deployment_usage"))]
    except sa.exc.OperationalError:  # no such table
        return []


def test_the_flusher_survives_a_store_error_and_writes_the_whole_day_once_it_is_back(
        tmp_path: Path, caplog):
    class Store:  # a real SQLite store, its tables not made yet
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'store.db'}")

    metrics = ServingMetrics()
    writer = UsageFlusher(Store(), metrics, served=lambda: {"credit": "credit:1"},
                          every_s=0.02, process="a:1", today=lambda: "2026-03-01")
    served(metrics, "credit:1", requests=2)
    writer.start()
    try:
        time.sleep(0.2)  # several flushes, each failing
        served(metrics, "credit:1", requests=1)
        metadata.create_all(Store.engine)  # the store is back
        deadline = time.monotonic() + 5
        while not written_requests(Store.engine) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        writer.stop()
    assert written_requests(Store.engine) == [(3,)]
    assert "writing the serving usage to the store failed" in caplog.text


def test_trainforge_serve_writes_what_it_served_when_it_stops(tmp_path: Path, classifier,
                                                              one_record):
    import httpx

    from trainforge.serving.server import build_server
    from trainforge.serving.usage import utc_day

    workspace = Workspace(tmp_path / "home")
    server = build_server([classifier], port=0, usage=workspace)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        answer = httpx.post(f"http://{host}:{port}/v1/models/adult/predict",
                            json={"records": [one_record, one_record]}, timeout=10)
        assert answer.status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    [day] = usage_by_day(workspace, since=utc_day())
    assert (day["deployment"], day["requests"], day["predictions"]) == ("adult", 1, 2)
