"""`trainforge rl train ENV` → a registered policy → `trainforge rl eval NAME`, and bad input."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
import torch

from trainforge.cli.app import run

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # one message, one line: rich wraps at the width


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rl-cli-home")


@pytest.fixture(scope="module")
def trained(home: Path) -> str:
    """The output of a short `trainforge rl train CartPole-v1` in a workspace of its own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRAINFORGE_HOME", str(home))
        patch.setenv("COLUMNS", "400")
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            code = run(["rl", "train", "CartPole-v1", "--timesteps", "1024", "--episodes", "3",
                        "--name", "pole"])
    assert code == 0, printed.getvalue()
    return printed.getvalue()


def test_rl_train_prints_the_algorithm_and_why(trained):
    assert "PPO, the default for the action space Discrete(2)" in trained


def test_rl_train_prints_the_mean_return_and_where_the_report_is(trained, home):
    assert "mean return" in trained
    assert str(home / "artifacts" / "models" / "pole" / "1" / "report.html") in trained


def test_rl_train_shows_how_to_serve_the_policy_and_call_act(trained):
    assert "trainforge serve pole" in trained
    assert "/v1/models/pole/act" in trained


def test_the_report_has_the_learning_curve_and_the_settings(trained, home):
    report = (home / "artifacts" / "models" / "pole" / "1" / "report.html").read_text()
    assert 'alt="Learning curve"' in report
    assert "n_steps" in report


def test_rl_eval_prints_the_mean_return_of_the_registered_policy(trained, home, monkeypatch,
                                                                  capsys):
    monkeypatch.setenv("TRAINFORGE_HOME", str(home))
    assert run(["rl", "eval", "pole", "--episodes", "2"]) == 0
    assert "pole on CartPole-v1: mean return" in capsys.readouterr().out


def test_models_list_shows_the_policy_with_its_mean_return(trained, home, monkeypatch, capsys):
    monkeypatch.setenv("TRAINFORGE_HOME", str(home))
    assert run(["models", "list"]) == 0
    listing = capsys.readouterr().out
    assert "pole" in listing and "reinforcement" in listing and "mean_return" in listing


def test_models_show_says_what_the_policy_acts_on(trained, home, monkeypatch, capsys):
    monkeypatch.setenv("TRAINFORGE_HOME", str(home))
    assert run(["models", "show", "pole"]) == 0
    assert "observations of shape (4,)" in capsys.readouterr().out


def test_an_unknown_environment_id_is_one_line_naming_it(capsys):
    assert run(["rl", "train", "CartPol-v1", "--timesteps", "64"]) != 0
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "no Gymnasium environment 'CartPol-v1'" in error


def test_a_module_that_fails_to_import_is_named(tmp_path, monkeypatch, capsys):
    (tmp_path / "broken_world.py").write_text("import not_installed_physics\n")
    monkeypatch.chdir(tmp_path)
    assert run(["rl", "train", "broken_world:World", "--timesteps", "64"]) != 0
    error = capsys.readouterr().err
    assert "module 'broken_world'" in error
    assert "not_installed_physics" in error


def test_an_algorithm_that_cannot_act_in_the_space_says_which_can(capsys):
    assert run(["rl", "train", "CartPole-v1", "--algo", "SAC", "--timesteps", "64"]) != 0
    assert "choose one of: PPO, A2C, DQN" in capsys.readouterr().err
