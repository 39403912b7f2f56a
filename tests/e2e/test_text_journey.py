"""Text end to end: a column of messages in; a trained, served network out."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from tests._paths import EXAMPLES
from tests.e2e._cli import trainforge

pytestmark = pytest.mark.slow  # whole journeys: trains networks through the CLI (a minute each)

pytest.importorskip("torch")

SMS = EXAMPLES / "sms_spam.csv"



@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    home = tmp_path_factory.mktemp("home")
    messages = home.parent / "sms.csv"
    # 240 to learn from (35 spam), 60 to test: MiniLM's vectors scored a test roc_auc of 0.99
    # from 300 as from 500 messages, and encoding them is most of the training's time
    pd.read_csv(SMS).head(300).to_csv(messages, index=False)
    done = trainforge("train", str(messages), "--target", "label", "--algorithm", "minilm",
                      "--trials", "1", "--name", "sms", home=home)
    return home, done


def test_a_text_column_trains_a_pretrained_minilm_that_beats_the_majority_class(trained):
    home, done = trained
    assert done.returncode == 0, done.stderr
    assert "Features: 1 columns (text)" in done.stdout
    from trainforge.workspace import Workspace

    metrics = Workspace(home).registry.show("sms")["metrics"]["test"]
    assert metrics["roc_auc"] > 0.9


def test_the_served_text_model_answers_a_message(trained):
    from trainforge.serving.app import create_app
    from trainforge.workspace import Workspace

    home, _ = trained
    client = TestClient(create_app({"sms": Workspace(home).registry.load("sms")}))
    answer = client.post("/v1/models/sms/predict", json={"records": [
        {"text": "WINNER!! Claim your free prize now, call 09061701461"},
        {"text": "see you at lunch?"}, {"text": ""}]})
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 3
