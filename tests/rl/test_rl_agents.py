"""Which algorithm fits which action space, and refusals of those that do not."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from trainforge.errors import UnknownAlgorithm, UnsuitableAlgorithm
from trainforge.rl.agents import choose_algorithm

DISCRETE = gym.spaces.Discrete(3)
CONTINUOUS = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)


def test_discrete_actions_default_to_ppo():
    assert choose_algorithm(DISCRETE, None) == "PPO"


def test_continuous_actions_default_to_sac():
    assert choose_algorithm(CONTINUOUS, None) == "SAC"


@pytest.mark.parametrize(("space", "requested"), [(DISCRETE, "dqn"), (DISCRETE, "A2C"),
                                                  (CONTINUOUS, "td3"), (CONTINUOUS, "PPO")])
def test_a_requested_algorithm_that_fits_is_kept_in_capitals(space: gym.Space[int],
                                                             requested: str):
    assert choose_algorithm(space, requested) == requested.upper()


def test_dqn_on_continuous_actions_is_refused_naming_those_that_fit():
    with pytest.raises(UnsuitableAlgorithm, match=r"DQN cannot act in .*Box.*SAC, PPO, A2C, TD3"):
        choose_algorithm(CONTINUOUS, "DQN")


def test_sac_on_discrete_actions_is_refused():
    with pytest.raises(UnsuitableAlgorithm,
                       match=r"SAC cannot act in the action space Discrete\(3\); choose one "
                             r"of: PPO, A2C, DQN"):
        choose_algorithm(DISCRETE, "SAC")


def test_an_unknown_algorithm_name_suggests_a_known_one():
    with pytest.raises(UnknownAlgorithm, match=r"'PPO2'.*Did you mean 'PPO'"):
        choose_algorithm(DISCRETE, "PPO2")
