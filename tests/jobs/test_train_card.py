"""`trainforge train --intended-use … --intended-users …`: the trainer's words start the model
card's written parts; a later card edit still supersedes them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from tests._cli import InProcessCli
from tests._examples import one_feature_example
from tests._paths import EXAMPLES

from trainforge.config import ModelCardEdit, TrainConfig
from trainforge.jobs.model_cards import edit_model_card, model_card
from trainforge.workspace import Workspace

CREDIT = str(EXAMPLES / "credit_g.csv")


@pytest.fixture(scope="module")
def credit(tmp_path_factory: pytest.TempPathFactory) -> str:
    """credit_g.csv cut to its target and one feature: the card does not depend on the
    columns (see tests/_examples.py)."""
    return str(one_feature_example("credit_g.csv", tmp_path_factory.mktemp("credit")))


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> InProcessCli:
    return InProcessCli(monkeypatch, capsys)


@pytest.mark.slow  # a whole training run: ~3 s
def test_the_train_flags_seed_the_cards_intended_use_and_users(cli: InProcessCli,
                                                               tmp_path: Path, credit: str):
    done = cli("train", credit, "--target", "class", "--name", "credit", "--algorithm",
               "linear", "--trials", "1", "--intended-use", "pre-screening loan applications",
               "--intended-users", "the credit team", home=tmp_path)
    assert done.returncode == 0, done.stderr
    written = model_card(Workspace(tmp_path), "credit")["written"]
    assert (written["intended_use"]["text"], written["intended_use"]["version"],
            written["intended_users"]["text"]) == (
        "pre-screening loan applications", 1, "the credit team")
    edit_model_card(Workspace(tmp_path), "credit", ModelCardEdit(intended_use="fraud triage"),
                    written_by="eve")
    edited = model_card(Workspace(tmp_path), "credit")["written"]
    assert (edited["intended_use"]["text"], edited["intended_use"]["written_by"],
            edited["intended_users"]["text"]) == ("fraud triage", "eve", "the credit team")


@pytest.mark.slow  # a whole training run: ~3 s
def test_without_the_flags_the_card_has_no_written_parts(cli: InProcessCli, tmp_path: Path,
                                                         credit: str):
    cli("train", credit, "--target", "class", "--name", "credit", "--algorithm", "linear",
        "--trials", "1", home=tmp_path)
    written = model_card(Workspace(tmp_path), "credit")["written"]
    assert set(written.values()) == {None}


@pytest.mark.parametrize(("field", "value"), [("intended_use", "x" * 5_001),
                                              ("intended_users", "a\x00b")])
def test_a_card_text_that_is_too_long_or_not_text_is_refused_naming_the_field(field: str,
                                                                              value: str):
    with pytest.raises(ValidationError, match=field):
        TrainConfig(data=CREDIT, target="class", **{field: value})
