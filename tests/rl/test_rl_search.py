"""The optional settings search: the defaults are its first trial."""

from __future__ import annotations

import torch

from trainforge.rl.agents import default_settings
from trainforge.rl.environments import make_one_env
from trainforge.rl.search import search_settings

torch.set_num_threads(1)


def test_a_search_of_one_trial_returns_the_defaults():
    action_space = make_one_env("CartPole-v1").action_space
    best = search_settings("CartPole-v1", trials=1, timesteps_per_trial=256, eval_episodes=1)
    assert best == default_settings("PPO", action_space)


def test_a_search_returns_settings_of_the_algorithm_asked_for():
    best = search_settings("CartPole-v1", algo="A2C", trials=2, timesteps_per_trial=256,
                           eval_episodes=1)
    assert best.algorithm == "A2C"
