"""Text networks end to end beyond the first one: empty messages and a legacy encoding, and a
network that starts from a registered one with its tokenizer."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest
from tests._paths import EXAMPLES
from tests.e2e._cli import trainforge

pytestmark = pytest.mark.slow  # whole journeys: trains networks through the CLI

pytest.importorskip("torch")

SMS = EXAMPLES / "sms_spam.csv"
# 19 of them spam: enough for a stratified split, and each of the six networks these tests
# fit (a trial and two refits per training) costs half what 240 messages did
MESSAGES = 120
# a GRU's step costs its sequence length: cut to 30 characters the messages need about half
# the tokens 60 characters did (27), and the tests assert what the networks take and keep,
# not how well they learn
CHARACTERS = 30
# a GRU's own number of epochs: on 96 training messages (two optimiser steps an epoch) it
# would otherwise train up to 200, for 500 steps
EPOCHS = "12"
# the second task's label: a message with more than this many words (56 of the 120) is long
WORDS = 6


def messages() -> pd.DataFrame:
    """The first MESSAGES messages of sms_spam.csv, each cut to CHARACTERS characters."""
    rows = pd.read_csv(SMS).head(MESSAGES).fillna("")
    return rows.assign(text=rows["text"].str.slice(0, CHARACTERS))


@pytest.fixture(scope="module")
def gru(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A GRU trained on 120 messages cut to 30 characters, every tenth one empty, in a file
    written in cp1252."""
    folder = tmp_path_factory.mktemp("gru")
    rows = messages()
    rows.loc[::10, "text"] = ""
    rows.loc[5, "text"] = "Café crème à volonté, très bon marché"
    path = folder / "cp1252.csv"
    path.write_bytes(rows.to_csv(index=False).encode("cp1252", errors="replace"))
    done = trainforge("train", str(path), "--target", "label", "--algorithm", "gru",
                      "--trials", "1", "--max-epochs", EPOCHS, "--name", "spam",
                      home=folder / "home")
    return folder / "home", done


def test_empty_texts_and_a_legacy_encoding_train_like_any_text(gru):
    _, done = gru
    assert done.returncode == 0, done.stderr
    assert "Registered spam:1" in done.stdout


def test_a_text_network_starts_from_a_registered_one_with_its_tokenizer(gru, tmp_path):
    from trainforge.workspace import Workspace

    home, first = gru
    assert first.returncode == 0, first.stderr
    rows = messages()
    rows.assign(label=["long" if len(t.split()) > WORDS else "short" for t in rows["text"]]).to_csv(
        tmp_path / "length.csv", index=False)
    second = trainforge("train", str(tmp_path / "length.csv"), "--target", "label",
                        "--init-from", "spam:1", "--trials", "1", "--max-epochs", EPOCHS,
                        "--name", "length", home=home)
    assert second.returncode == 0, second.stderr
    registry = Workspace(home).registry
    source = registry.load("spam").model.members[0].estimator
    target = registry.load("length").model.members[0].estimator
    assert target.inputs_.to_dict() == source.inputs_.to_dict()
    assert target.module_.head.out_features == 2 and target.init_from.startswith(str(home))
