"""`trainforge policy`: set a model's retraining policy, see which trigger fires, and retrain
now: end to end on a small model, from logged predictions and their labels to a challenger."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests._cli import InProcessCli
from tests.monitoring._served import copy_home, serve_and_label

from trainforge.store.datasets import get_dataset
from trainforge.store.runs import get_run


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> InProcessCli:
    return InProcessCli(monkeypatch, capsys)


def test_check_says_which_trigger_fires_and_why(cli: InProcessCli, churn_home: Path,
                                                tmp_path: Path):
    ws = copy_home(churn_home, tmp_path)
    serve_and_label(ws, n_rows=6)
    cli("policy", "set", "churn", "--new-labels", "5", home=ws.home)
    done = cli("policy", "check", "churn", home=ws.home)
    assert done.returncode == 0
    assert "labels: 6 labels arrived since version 1 was trained (policy: 5)" in done.stdout
    assert len(ws.registry.versions("churn")) == 1  # without --now it only says


def test_a_bad_duration_is_refused_naming_the_flag(cli: InProcessCli, churn_home: Path,
                                                   tmp_path: Path):
    ws = copy_home(churn_home, tmp_path)
    done = cli("policy", "set", "churn", "--every", "weekly", home=ws.home)
    assert done.returncode == 2 and "--every: Value error, 'weekly' is not a duration" in " ".join(
        done.stderr.split())


def test_check_now_trains_a_challenger_with_lineage_to_the_feedback(
        cli: InProcessCli, churn_home: Path, tmp_path: Path):
    ws = copy_home(churn_home, tmp_path)
    [request_id] = serve_and_label(ws, n_rows=20)
    cli("policy", "set", "churn", "--trials", "1", "--train-on", "original+feedback",
        home=ws.home)
    done = cli("policy", "check", "churn", "--now", home=ws.home)
    assert done.returncode == 0, done.stderr
    [challenger] = [v for v in ws.registry.versions("churn") if "challenger" in v.aliases]
    dataset = get_dataset(ws, get_run(ws, str(challenger.run_id))["dataset_id"])
    assert challenger.version == 2 and dataset is not None
    assert dataset["lineage"]["predictions"]["first_request_id"] == request_id
    assert (dataset["n_rows"], dataset["lineage"]["n_labels"]) == (220, 20)
