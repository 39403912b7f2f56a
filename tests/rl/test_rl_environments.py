"""Environments from a name: Gymnasium ids, the user's own module:Class, and clear failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainforge.errors import EnvironmentImportFailed, UnknownEnvironment
from trainforge.rl.environments import make_env

CORRIDOR = '''
import gymnasium as gym
import numpy as np


class Corridor(gym.Env):
    """Walk right to the end of a corridor of 5 cells."""

    observation_space = gym.spaces.Box(0.0, 4.0, shape=(1,), dtype=np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.cell = 0
        return np.array([self.cell], dtype=np.float32), {}

    def step(self, action):
        self.cell = max(0, min(4, self.cell + (1 if action == 1 else -1)))
        done = self.cell == 4
        return np.array([self.cell], dtype=np.float32), float(done), done, False, {}
'''


def test_a_registered_id_gives_as_many_seeded_copies_as_asked():
    env = make_env("CartPole-v1", n_envs=3, seed=7)
    assert env.num_envs == 3
    assert env.observation_space.shape == (4,)


def test_an_unknown_id_is_refused_with_close_matches():
    with pytest.raises(UnknownEnvironment, match=r"'CartPol-v1'.*Did you mean 'CartPole-v1'"):
        make_env("CartPol-v1", n_envs=1, seed=0)


def test_a_users_class_in_the_current_directory_is_imported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "corridor_env.py").write_text(CORRIDOR)
    monkeypatch.chdir(tmp_path)
    env = make_env("corridor_env:Corridor", n_envs=2, seed=0)
    assert (env.num_envs, env.action_space.n) == (2, 2)


def test_a_module_that_fails_to_import_is_named_with_its_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "broken_env.py").write_text("import no_such_package_for_trainforge\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EnvironmentImportFailed,
                       match=r"'broken_env'.*No module named 'no_such_package_for_trainforge'"):
        make_env("broken_env:Anything", n_envs=1, seed=0)


def test_a_module_without_the_class_says_which_name_is_missing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "corridor_env_two.py").write_text(CORRIDOR)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EnvironmentImportFailed, match=r"no attribute 'Hallway'"):
        make_env("corridor_env_two:Hallway", n_envs=1, seed=0)
