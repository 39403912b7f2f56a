"""Policy files: safetensors + JSON, read back into a policy that acts as the trained one."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from trainforge.errors import ObservationShapeMismatch, PackageCorrupt
from trainforge.rl.policy_files import load_policy, save_policy
from trainforge.rl.spaces import decode_space, encode_space
from trainforge.rl.training import TrainedAgent, train_agent

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def agent() -> TrainedAgent:
    return train_agent("CartPole-v1", timesteps=512, seed=3)


@pytest.fixture(scope="module")
def observations() -> np.ndarray:
    env = gym.make("CartPole-v1")
    env.observation_space.seed(0)
    return np.stack([env.observation_space.sample() for _ in range(64)]) * 0.1


def test_a_loaded_policy_takes_the_trained_agents_actions(
        agent: TrainedAgent, observations: np.ndarray, tmp_path: Path):
    save_policy(agent, tmp_path)
    assert load_policy(tmp_path).act(observations).tolist() == agent.act(observations).tolist()


def test_the_policy_files_are_json_and_safetensors_only(agent: TrainedAgent, tmp_path: Path):
    written = save_policy(agent, tmp_path)
    assert sorted(written) == sorted(p.name for p in tmp_path.iterdir()) == [
        "policy.json", "policy.safetensors"]


def test_the_json_describes_the_spaces_and_the_algorithm(agent: TrainedAgent, tmp_path: Path):
    save_policy(agent, tmp_path)
    description = json.loads((tmp_path / "policy.json").read_text())
    assert (description["algorithm"], description["action_space"],
            description["observation_space"]["shape"]) == (
        "PPO", {"type": "Discrete", "n": 2, "start": 0}, [4])


def test_one_observation_gives_one_action(agent: TrainedAgent, tmp_path: Path):
    save_policy(agent, tmp_path)
    assert load_policy(tmp_path).act([0.0, 0.0, 0.05, 0.0]).shape == ()


def test_an_observation_of_the_wrong_shape_is_refused_with_both_shapes(
        agent: TrainedAgent, tmp_path: Path):
    save_policy(agent, tmp_path)
    with pytest.raises(ObservationShapeMismatch, match=r"shape \(3,\) but .* expects \(4,\)"):
        load_policy(tmp_path).act([0.0, 0.1, 0.2])


def test_tampered_weights_are_refused(agent: TrainedAgent, tmp_path: Path):
    save_policy(agent, tmp_path)
    weights = tmp_path / "policy.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(PackageCorrupt, match="sha256"):
        load_policy(tmp_path)


def test_a_box_with_infinite_bounds_survives_json():
    space = gym.spaces.Box(low=np.array([-np.inf, -1.0], dtype=np.float32),
                           high=np.array([np.inf, 1.0], dtype=np.float32), dtype=np.float32)
    assert decode_space(json.loads(json.dumps(encode_space(space)))) == space


@pytest.mark.parametrize(("algo", "env_spec"), [
    ("A2C", "CartPole-v1"), ("DQN", "CartPole-v1"),
    # SAC and TD3 train their networks as they step: 6-8 s on the loaded VM
    pytest.param("SAC", "Pendulum-v1", marks=pytest.mark.slow),
    pytest.param("TD3", "Pendulum-v1", marks=pytest.mark.slow)])
def test_every_algorithms_policy_loads_and_acts_as_trained(algo: str, env_spec: str,
                                                           tmp_path: Path):
    trained = train_agent(env_spec, algo=algo, timesteps=200, seed=0)
    save_policy(trained, tmp_path)
    batch = np.stack([trained.model.observation_space.sample() for _ in range(16)])
    np.testing.assert_allclose(load_policy(tmp_path).act(batch), trained.act(batch), rtol=1e-6)
