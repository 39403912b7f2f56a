"""The prediction log: what is recorded is read back; what cannot be written is counted."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from trainforge.errors import ConfigError
from trainforge.monitoring.prediction_log import (
    COMPACT_FILES,
    LogPolicy,
    PredictionLog,
    new_request_id,
    prune,
    read_predictions,
)


def _record(log: PredictionLog, *, deployment: str = "churn", n_rows: int = 2,
            request_id: str | None = None, version: int = 1) -> str:
    request_id = request_id or new_request_id()
    log.record(deployment=deployment, model="churn", version=version, request_id=request_id,
               inputs={"age": [30 + i for i in range(n_rows)],
                       "plan": ["basic" if i % 2 else "pro" for i in range(n_rows)]},
               outputs={"prediction": ["yes"] * n_rows, "proba.yes": [0.75] * n_rows},
               n_rows=n_rows, latency_s=0.002)
    return request_id


def test_recorded_predictions_are_read_back_row_by_row_with_their_request(tmp_path: Path):
    log = PredictionLog(tmp_path)
    first = _record(log, n_rows=2)
    second = _record(log, n_rows=1, version=2)
    log.flush()
    frame = read_predictions(tmp_path, "churn")
    assert list(frame["request_id"]) == [first, first, second]
    assert list(frame["row"]) == [0, 1, 0]
    assert list(frame["version"]) == [1, 1, 2]
    assert list(frame["in.age"]) == [30, 31, 30]
    assert list(frame["out.prediction"]) == ["yes"] * 3
    assert frame["latency_ms"].iloc[0] == pytest.approx(2.0)
    assert str(frame["time"].dt.tz) == "UTC"
    assert log.stats.written_rows == 3 and log.stats.dropped_rows == {}


def test_the_writer_thread_writes_without_being_asked(tmp_path: Path):
    with PredictionLog(tmp_path, flush_every_s=0.05) as log:
        _record(log)
        for _ in range(100):
            if log.stats.written_rows:
                break
            __import__("time").sleep(0.05)
    assert len(read_predictions(tmp_path, "churn")) == 2


def test_a_sampling_policy_logs_about_its_share_of_requests(tmp_path: Path):
    random.seed(0)
    log = PredictionLog(tmp_path)
    log.set_policy("churn", LogPolicy.parse("sample:0.2"))
    for _ in range(1000):
        _record(log, n_rows=1)
    log.flush()
    assert 150 < len(read_predictions(tmp_path, "churn")) < 250


def test_a_deployment_logging_nothing_writes_nothing(tmp_path: Path):
    log = PredictionLog(tmp_path)
    log.set_policy("churn", LogPolicy.parse("none"))
    _record(log)
    log.flush()
    assert read_predictions(tmp_path, "churn").empty and log.stats.files == 0


def test_excluded_columns_are_never_written_and_hashed_ones_cannot_be_read_back(
        tmp_path: Path):
    log = PredictionLog(tmp_path)
    log.set_policy("churn", LogPolicy(exclude=("age",), hashed=("plan",)))
    _record(log, n_rows=4)
    log.flush()
    frame = read_predictions(tmp_path, "churn")
    assert "in.age" not in frame
    plans = list(frame["in.plan"])
    assert "pro" not in plans and "basic" not in plans
    assert plans[0] == plans[2] != plans[1]  # equal values stay equal: drift still measurable
    raw = b"".join(p.read_bytes() for p in tmp_path.rglob("*.parquet"))
    assert b"basic" not in raw


def test_a_full_queue_drops_rows_and_counts_them_without_failing_the_request(tmp_path: Path):
    log = PredictionLog(tmp_path, max_queued_rows=5)
    for _ in range(4):
        _record(log, n_rows=2)  # 8 rows offered, room for 5
    log.flush()
    assert log.stats.written_rows == 4
    assert log.stats.dropped_rows == {"queue full (the writer is behind)": 4}


def test_a_failed_write_is_counted_and_the_next_one_succeeds(tmp_path: Path):
    (tmp_path / "churn").write_text("a file where the log's folder should be")
    log = PredictionLog(tmp_path)
    _record(log)
    log.flush()
    assert log.stats.written_rows == 0 and sum(log.stats.dropped_rows.values()) == 2
    (tmp_path / "churn").unlink()
    _record(log)
    log.flush()
    assert log.stats.written_rows == 2 and len(read_predictions(tmp_path, "churn")) == 2


@pytest.mark.slow  # a Python process of its own: seconds (measured on the loaded VM)
def test_a_full_disk_loses_log_rows_counted_and_the_process_keeps_going(tmp_path: Path):
    # the file size limit makes every write past 4 KB fail as a full disk does (EFBIG)
    script = textwrap.dedent(f"""
        import json, resource, signal
        from pathlib import Path
        from trainforge.monitoring.prediction_log import PredictionLog
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        log = PredictionLog(Path({str(tmp_path)!r}))
        for i in range(200):
            log.record(deployment="churn", model="churn", version=1, request_id=str(i),
                       inputs={{"text": ["x" * 500]}}, outputs={{"prediction": [1.0]}},
                       n_rows=1, latency_s=0.001)
        log.flush()
        print(json.dumps({{"written": log.stats.written_rows,
                           "dropped": log.stats.dropped_rows}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=True)
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    assert stats["written"] == 0
    assert sum(stats["dropped"].values()) == 200
    assert all(reason.startswith("write failed") for reason in stats["dropped"])
    assert not list(tmp_path.rglob("*.partial"))  # no half-written file left behind


def test_retention_removes_whole_days_older_than_it(tmp_path: Path):
    today = date(2026, 12, 5)
    for age in (0, 10, 40):
        day = tmp_path / "churn" / (today - timedelta(days=age)).isoformat()
        day.mkdir(parents=True)
        (day / "part-000000-x.parquet").write_bytes(b"")
    removed = prune(tmp_path, retention_days=30, today=today)
    assert [p.name for p in removed] == ["2026-10-26"]
    assert sorted(p.name for p in (tmp_path / "churn").iterdir()) == ["2026-11-25",
                                                                      "2026-12-05"]


def test_reading_a_time_window_returns_only_its_rows(tmp_path: Path):
    log = PredictionLog(tmp_path)
    _record(log)
    log.flush()
    now = datetime.now(UTC)
    assert len(read_predictions(tmp_path, "churn", since=now - timedelta(minutes=1))) == 2
    assert read_predictions(tmp_path, "churn", since=now + timedelta(minutes=1)).empty


@pytest.mark.parametrize("text", ["sample", "sample:2", "sample:abc", "some", "all:0.5"])
def test_a_malformed_log_policy_is_refused_saying_what_to_write(text: str):
    with pytest.raises(ConfigError, match="sample"):
        LogPolicy.parse(text)


def test_a_policy_naming_a_column_the_model_lacks_is_refused():
    with pytest.raises(ConfigError, match="'agee'.*its inputs: age, plan"):
        LogPolicy(exclude=("agee",)).check_columns(["age", "plan"])


def test_a_writer_merges_its_many_small_files_and_every_row_reads_back_once(tmp_path: Path):
    log = PredictionLog(tmp_path)
    sent = []
    for _ in range(COMPACT_FILES + 3):  # a flush per request, as a quiet server's would be
        sent.append(_record(log, n_rows=2))
        log.flush()
    files = list((tmp_path / "churn").glob("*/part-*.parquet"))
    frame = read_predictions(tmp_path, "churn")
    assert (len(files), list(frame["request_id"].drop_duplicates()), len(frame)) == (
        4, sent, 2 * len(sent))


def test_rows_seen_twice_while_a_merge_lands_are_read_once(tmp_path: Path):
    log = PredictionLog(tmp_path)
    _record(log, n_rows=3)
    log.flush()
    (original,) = (tmp_path / "churn").glob("*/part-*.parquet")
    shutil.copy(original, original.with_name("part-000000-copy.parquet"))  # merged, not deleted
    assert len(read_predictions(tmp_path, "churn")) == 3


def test_flushes_racing_the_writer_thread_lose_no_row_to_a_merge(tmp_path: Path):
    import threading

    log = PredictionLog(tmp_path, flush_every_s=0.001)
    log.start()
    sent = []

    def send(n: int) -> None:
        for _ in range(n):
            sent.append(_record(log, n_rows=1))
            log.flush()

    threads = [threading.Thread(target=send, args=(2 * COMPACT_FILES,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    assert (log.stats.dropped_rows, len(read_predictions(tmp_path, "churn"))) == ({}, len(sent))
