"""search() with its trials on Ray: a real local Ray of 2 CPUs, started once for the module."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import ray
from tests.training._tables import SCHEMA, table

from trainforge.data.task import TaskKind
from trainforge.training.automl import SearchResult, search
from trainforge.training.ray_trials import RayTrials

# a Ray cluster takes ~10 s to start on 2 busy cores: `make test-cluster`
pytestmark = [pytest.mark.slow, pytest.mark.cluster]


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _search_on_ray(*, workers: int, **options: Any) -> SearchResult:
    frame, task = table(TaskKind.BINARY)
    settings: dict[str, Any] = {"deadline": None, "trials": 4, "seed": 0}
    settings.update(options)
    return search(frame, task=task, schema=SCHEMA, features=["x1", "x2", "colour"],
                  runner=RayTrials(workers=workers, address=None), **settings)


def _trial_scores(result: SearchResult) -> list[tuple[int, str, float | None]]:
    return sorted((row.number, row.algorithm, row.score) for row in result.leaderboard
                  if row.number is not None)


def test_a_trial_count_gives_the_same_trials_and_scores_on_one_worker_and_on_two():
    one, two = _search_on_ray(workers=1), _search_on_ray(workers=2)
    assert _trial_scores(one) == _trial_scores(two)


def test_tuned_and_pruned_trials_do_not_depend_on_the_number_of_workers():
    # 1 default, then Optuna's proposals in two batches: the second is pruned against the first
    one = _search_on_ray(workers=1, algorithm="linear", trials=12)
    two = _search_on_ray(workers=2, algorithm="linear", trials=12)
    assert _trial_scores(one) == _trial_scores(two)


def test_the_searched_table_goes_into_the_object_store_once_whatever_the_trials(monkeypatch):
    puts: list[object] = []
    put = ray.put
    monkeypatch.setattr(ray, "put", lambda value: puts.append(value) or put(value))
    _search_on_ray(workers=2, trials=4)
    assert len(puts) == 1


def test_a_search_on_ray_blends_its_trials_into_a_model_that_predicts_every_row():
    result = _search_on_ray(workers=2, trials=4)
    frame, _ = table(TaskKind.BINARY, seed=1)
    assert (len(result.model.predict(frame)), result.n_trials) == (len(frame), 4)


def test_a_search_on_ray_with_a_deadline_finishes_by_it():
    started = time.monotonic()
    result = _search_on_ray(workers=2, trials=None, deadline=started + 8.0)
    assert time.monotonic() - started < 8.0 + 1.0
    assert result.n_trials >= 2
