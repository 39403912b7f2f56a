"""The quick models' refit process: it refits away from the server, pauses between a
project's refits, answers in JSON, and is started again after it dies."""

from __future__ import annotations

import io
import os
import signal
import time
from pathlib import Path

import orjson
import pytest
from tests.labeling._projects import text_project
from tests.server._jobs import wait_for

from trainforge.jobs import labeling as jobs
from trainforge.labeling.quick_models import QuickModels
from trainforge.labeling.refit_process import REFIT_PAUSE_S, _Refitter
from trainforge.workspace import Workspace


@pytest.fixture
def workspace(new_workspace, tmp_path: Path) -> Workspace:
    return new_workspace(tmp_path / "home")  # tests/conftest.py: a copy of a migrated store


def labelled(workspace: Workspace, tmp_path: Path) -> None:
    text_project(workspace, tmp_path)
    jobs.label_item(workspace, "sms", 0, annotator="ann", label="spam")
    jobs.label_item(workspace, "sms", 1, annotator="ann", label="ham")


def test_a_refit_answers_the_order_and_the_words_as_one_json_line(workspace, tmp_path):
    labelled(workspace, tmp_path)
    answers = io.BytesIO()
    refitter = _Refitter(workspace, answers)
    refitter.asked("sms")
    refitter.refit_due()
    answer = orjson.loads(answers.getvalue())
    assert (answer["project_id"], answer["fitted"]["n_labels"]) == (1, 2)
    assert sorted(answer["fitted"]["ranked"]) == [2, 3, 4, 5, 6, 7]
    assert "free" in answer["fitted"]["words"]["words"]


def test_a_project_labelled_right_after_its_refit_waits_the_pause(workspace, tmp_path):
    labelled(workspace, tmp_path)
    refitter = _Refitter(workspace, io.BytesIO())
    refitter.asked("sms")
    first_wait = refitter.wait_s()
    refitter.refit_due()
    refitter.asked("sms")
    assert first_wait == 0.0 and refitter.wait_s() > REFIT_PAUSE_S - 0.5


@pytest.mark.slow  # two refit processes start (~5 s each on a busy 2-core box)
def test_the_refit_process_is_started_again_by_labels_after_it_died(workspace, tmp_path):
    labelled(workspace, tmp_path)
    models = QuickModels(workspace, restart_after_s=0.0)
    models.start()
    try:
        project = jobs.label_item(workspace, "sms", 2, annotator="ann", label="spam",
                                  changed=models.labels_changed)
        wait_for(lambda: models.latest(1), timeout_s=60, what="the first fit")
        first = models.pid
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: models.down, timeout_s=10, what="the process's death noticed")
        time.sleep(0.05)
        models.labels_changed(project)
        again = wait_for(lambda: models.latest(1), timeout_s=60, what="a fit after restart")
    finally:
        models.stop()
    assert (again.n_labels, models.down, models.pid) == (3, False, None)
    assert first != os.getpid()


@pytest.mark.slow  # a refit process starts (~5 s on a busy 2-core box)
def test_a_refit_process_that_stops_reading_never_blocks_a_label(workspace, tmp_path):
    labelled(workspace, tmp_path)
    models = QuickModels(workspace)
    models.start()
    project = jobs.label_item(workspace, "sms", 2, annotator="ann", label="spam",
                              changed=models.labels_changed)
    wait_for(lambda: models.latest(1), timeout_s=60, what="the first fit")
    os.kill(models.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        for _ in range(50_000):  # ~900 kB: more than a pipe holds
            models.labels_changed(project)
        took_s = time.monotonic() - started
    finally:
        os.kill(models.pid, signal.SIGCONT)
        models.stop()
    assert took_s < 5.0
