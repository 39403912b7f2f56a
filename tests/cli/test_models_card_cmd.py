"""`trainforge models card`: print or write a version's card, and --set its written parts."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests._cli import InProcessCli
from tests.monitoring._served import copy_home


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> InProcessCli:
    return InProcessCli(monkeypatch, capsys)


@pytest.fixture
def home(churn_home: Path, tmp_path: Path) -> Path:
    return copy_home(churn_home, tmp_path).home


def test_the_card_prints_as_markdown(cli: InProcessCli, home: Path):
    done = cli("models", "card", "churn:1", home=home)
    assert done.returncode == 0 and done.stdout.startswith("# Model card: churn:1\n")


def test_a_set_field_shows_on_the_next_read(cli: InProcessCli, home: Path):
    cli("models", "card", "churn", "--set", "intended_use=pre-screening loans", home=home)
    done = cli("models", "card", "churn:1", "--format", "md", home=home)
    assert "## Intended use\n\npre-screening loans\n" in done.stdout


def test_the_card_is_written_as_html_to_a_file(cli: InProcessCli, home: Path, tmp_path: Path):
    done = cli("models", "card", "churn", "--format", "html", "--out",
               str(tmp_path / "card.html"), home=home)
    assert done.returncode == 0
    assert "<h1>Model card: churn:1</h1>" in (tmp_path / "card.html").read_text()


def test_an_unknown_field_is_refused_naming_it(cli: InProcessCli, home: Path):
    done = cli("models", "card", "churn", "--set", "owner=eve", home=home)
    assert done.returncode != 0 and "owner" in done.stderr
