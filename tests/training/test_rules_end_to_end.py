"""Training rules end to end: a network trained with learning rate 10 warns in the run's
events (its metric series, which the run page lists) or, with rules=stop, ends the run cleanly
with the finding as its reason and nothing registered; a leaking column warns after a search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.training._tables import table

from trainforge.config import TrainConfig
from trainforge.data.dataset import ColumnKind
from trainforge.data.task import Task, TaskKind
from trainforge.errors import StoppedByRule
from trainforge.jobs.lifecycle import run_lifecycle
from trainforge.jobs.train import _RunRecorder, run_training
from trainforge.store.runs import get_run, list_runs
from trainforge.training.automl import search
from trainforge.workspace import Workspace

pytest.importorskip("torch")

WORDS = {"yes": ["good", "great", "fine", "nice"], "no": ["bad", "awful", "poor", "sad"]}
# a tiny GRU with a learning rate 100x too high: the loss blows up within ten steps
BROKEN = {"learning_rate": 10.0, "batch_size": 8, "max_epochs": 2, "width": 8,
          "schedule": "constant", "fixed_epochs": True}


def _texts(rows: int = 64) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    labels = rng.choice(["yes", "no"], rows)
    texts = [" ".join(rng.choice(WORDS[label], 4)) for label in labels]
    return pd.DataFrame({"text": texts, "y": labels})


def _broken_run(workspace: Workspace, *, rules: str) -> str:
    config = TrainConfig(data="texts.csv", target="y", algorithm="gru", trials=1,
                         rules=rules)  # type: ignore[arg-type]
    with run_lifecycle(workspace, kind="train", config=config, dataset_id=None) as run:
        search(_texts(), task=Task("y", TaskKind.BINARY, "roc_auc", ("no", "yes")),
               schema={"text": ColumnKind.TEXT}, features=["text"], deadline=None, trials=1,
               algorithm="gru", fixed_params=BROKEN, rules=config.rules,
               callbacks=[_RunRecorder(workspace, run.id)])
    return run.id


def test_a_learning_rate_of_ten_warns_in_the_runs_events(tmp_path: Path):
    workspace = Workspace(tmp_path)
    series = get_run(workspace, _broken_run(workspace, rules="warn"))["series"]
    assert "rules.loss_diverged.gru" in series


def test_rules_stop_ends_the_run_with_the_finding_and_registers_nothing(tmp_path: Path):
    workspace = Workspace(tmp_path)
    with pytest.raises(StoppedByRule):
        _broken_run(workspace, rules="stop")
    (run,) = list_runs(workspace)
    assert (run["status"], run["model_name"]) == ("failed", None)
    assert "stopped by rule loss_diverged (gru epoch" in run["error"]
    assert workspace.registry.list_models() == []


def test_rules_off_records_no_finding(tmp_path: Path):
    workspace = Workspace(tmp_path)
    series = get_run(workspace, _broken_run(workspace, rules="off"))["series"]
    assert not [key for key in series if key.startswith("rules.")]


def test_run_training_stops_a_network_that_learns_only_the_class_shares_of_its_text(
        tmp_path: Path):
    # no option sets a network's learning rate, so the public path's broken case is the data:
    # one row in ten is "fraud", worded like the rest, so the GRU can learn only that "ok" is
    # nine in ten (its minority recall is 0 too, but nothing was learned from the text at all)
    rng = np.random.default_rng(0)
    words = [word for group in WORDS.values() for word in group]
    labels = np.where(np.arange(120) % 10 == 0, "fraud", "ok")
    pd.DataFrame({"text": [" ".join(rng.choice(words, 4)) for _ in labels], "y": labels}
                 ).to_csv(tmp_path / "claims.csv", index=False)
    workspace = Workspace(tmp_path / "home")
    # rules=stop: the run ends once the validation loss stops falling, not after ~30 epochs
    with pytest.raises(StoppedByRule, match="no lower than answering the class shares"):
        run_training(TrainConfig(data=str(tmp_path / "claims.csv"), target="y", algorithm="gru",
                                 trials=1, rules="stop"), workspace=workspace)
    (run,) = list_runs(workspace)
    assert "rules.loss_not_decreasing.gru" in get_run(workspace, run["id"])["series"]


def test_a_table_with_a_copy_of_the_target_warns_of_the_leak_in_the_run(tmp_path: Path):
    frame, _ = table(TaskKind.BINARY, n_rows=300)
    frame.assign(y_again=frame["y"]).to_csv(tmp_path / "leaky.csv", index=False)
    outcome = run_training(TrainConfig(data=str(tmp_path / "leaky.csv"), target="y",
                                       algorithm="linear", trials=1),
                           workspace=Workspace(tmp_path / "home"))
    series = get_run(Workspace(tmp_path / "home"), outcome.run_id)["series"]
    assert "rules.leaking_column.search" in series
    assert "y_again" in outcome.report_path.read_text()

