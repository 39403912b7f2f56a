"""Where a training's search trials run: the local backend by default, Ray when named."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from trainforge.config import TrainConfig
from trainforge.errors import ConfigError, RayUnreachable
from trainforge.jobs.search_backend import search_runner


def _config(**options: object) -> TrainConfig:
    return TrainConfig(data="x.csv", target="y", **options)  # type: ignore[arg-type]


def test_the_search_runs_its_trials_here_one_at_a_time_by_default(monkeypatch):
    monkeypatch.delenv("TRAINFORGE_RAY_ADDRESS", raising=False)
    assert search_runner(_config()) is None


def test_more_search_workers_than_the_local_backend_runs_are_refused_naming_the_way_out(
        monkeypatch):
    monkeypatch.delenv("TRAINFORGE_RAY_ADDRESS", raising=False)
    with pytest.raises(ConfigError, match="--search-workers 4 .* --search-backend ray"):
        search_runner(_config(search_workers=4))


@pytest.mark.slow  # imports Ray
def test_a_ray_address_in_the_environment_sends_the_trials_to_ray(monkeypatch):
    monkeypatch.setenv("TRAINFORGE_RAY_ADDRESS", "127.0.0.1:6379")
    runner = search_runner(_config(search_workers=3))
    assert (type(runner).__name__, runner.workers if runner else 0) == ("RayTrials", 3)


def test_the_local_backend_named_wins_over_a_ray_address_in_the_environment(monkeypatch):
    monkeypatch.setenv("TRAINFORGE_RAY_ADDRESS", "127.0.0.1:6379")
    assert search_runner(_config(search_backend="local")) is None


@pytest.mark.slow  # imports Ray
def test_a_ray_address_that_does_not_answer_is_a_clear_error_within_seconds():
    from trainforge.runtime.ray_cluster import join

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    started = time.monotonic()
    with pytest.raises(RayUnreachable, match="TRAINFORGE_RAY_ADDRESS"):
        join(address)
    assert time.monotonic() - started < 10.0


@pytest.mark.slow  # a fresh interpreter
def test_a_search_on_the_local_backend_never_imports_ray():
    program = ("import sys\n"
               "from tests.training._tables import SCHEMA, table\n"
               "from trainforge.data.task import TaskKind\n"
               "from trainforge.jobs import train\n"
               "from trainforge.training.automl import search\n"
               "frame, task = table(TaskKind.BINARY)\n"
               "search(frame, task=task, schema=SCHEMA, features=['x1', 'x2', 'colour'],\n"
               "       deadline=None, trials=1, runner=train.search_runner(\n"
               "           train.TrainConfig(data='x.csv', search_backend='local')))\n"
               "print(sorted(m for m in sys.modules if m.split('.')[0] == 'ray'))\n")
    shown = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                           timeout=120, check=True)
    assert shown.stdout.strip().splitlines()[-1] == "[]"
