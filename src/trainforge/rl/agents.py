"""Which Stable-Baselines3 algorithm fits an action space, its default settings, and building it.

Settings are plain JSON (a linear learning-rate schedule is the string "lin_1e-3", as in the RL
Baselines3 Zoo), so the same dictionary goes into a checkpoint, a policy file and a report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.noise import NormalActionNoise
from stable_baselines3.common.vec_env import VecEnv

from trainforge.errors import UnknownAlgorithm, UnsuitableAlgorithm

ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"PPO": PPO, "A2C": A2C, "DQN": DQN, "SAC": SAC,
                                              "TD3": TD3}
ON_POLICY = ("PPO", "A2C")
# SB3's support per action space; the first of each is the default
SUITABLE: dict[type[gym.Space[Any]], tuple[str, ...]] = {
    gym.spaces.Discrete: ("PPO", "A2C", "DQN"),
    gym.spaces.Box: ("SAC", "PPO", "A2C", "TD3"),
    gym.spaces.MultiDiscrete: ("PPO", "A2C"),
    gym.spaces.MultiBinary: ("PPO", "A2C"),
}
ACTIVATIONS: dict[str, type[torch.nn.Module]] = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}


@dataclass(frozen=True)
class AgentSettings:
    """An algorithm and everything that configures it, JSON-able throughout."""

    algorithm: str
    n_envs: int
    hyperparameters: dict[str, Any] = field(default_factory=dict)  # the algorithm's arguments
    policy_kwargs: dict[str, Any] = field(default_factory=dict)  # net_arch, activation name

    def as_json(self) -> dict[str, Any]:
        return {"algorithm": self.algorithm, "n_envs": self.n_envs,
                "hyperparameters": dict(self.hyperparameters),
                "policy_kwargs": dict(self.policy_kwargs)}


def choose_algorithm(action_space: gym.Space[Any], requested: str | None) -> str:
    """The requested algorithm when it can act in ``action_space``, else the space's default:
    PPO for discrete actions, SAC for continuous ones.

    Raises:
        UnknownAlgorithm: ``requested`` is not one of PPO, A2C, DQN, SAC, TD3.
        UnsuitableAlgorithm: it cannot act in this space (DQN on a Box, SAC on a Discrete…).
    """
    suitable = _suitable(action_space)
    if requested is None:
        if not suitable:
            raise UnsuitableAlgorithm("no algorithm", describe(action_space), suitable)
        return "PPO" if not isinstance(action_space, gym.spaces.Box) else suitable[0]
    name = requested.upper()
    if name not in ALGORITHMS:
        raise UnknownAlgorithm(requested, list(ALGORITHMS))
    if name not in suitable:
        raise UnsuitableAlgorithm(name, describe(action_space), suitable)
    return name


def default_settings(algorithm: str, action_space: gym.Space[Any]) -> AgentSettings:
    """Settings that learn the classic control tasks within 100,000 steps.

    PPO and A2C on discrete actions follow the RL Baselines3 Zoo's CartPole settings; DQN its
    CartPole ones too; the rest are Stable-Baselines3's defaults (the Zoo's continuous settings
    are tuned per task, and no single set fits them all).
    """
    discrete = not isinstance(action_space, gym.spaces.Box)
    if algorithm == "PPO" and discrete:
        return AgentSettings("PPO", n_envs=8, hyperparameters={
            "n_steps": 32, "batch_size": 256, "gae_lambda": 0.8, "gamma": 0.98, "n_epochs": 20,
            "ent_coef": 0.0, "learning_rate": "lin_1e-3", "clip_range": "lin_0.2"})
    if algorithm == "PPO":
        return AgentSettings("PPO", n_envs=4, hyperparameters={
            "n_steps": 512, "batch_size": 64, "gae_lambda": 0.95, "gamma": 0.99, "n_epochs": 10,
            "ent_coef": 0.0, "learning_rate": 3e-4, "clip_range": 0.2})
    if algorithm == "A2C":
        return AgentSettings("A2C", n_envs=8, hyperparameters={"ent_coef": 0.0})
    if algorithm == "DQN":
        return AgentSettings("DQN", n_envs=1, hyperparameters={
            "learning_rate": 2.3e-3, "batch_size": 64, "buffer_size": 100_000,
            "learning_starts": 1000, "gamma": 0.99, "target_update_interval": 10,
            "train_freq": 256, "gradient_steps": 128, "exploration_fraction": 0.16,
            "exploration_final_eps": 0.04}, policy_kwargs={"net_arch": [256, 256]})
    if algorithm == "TD3":
        return AgentSettings("TD3", n_envs=1, hyperparameters={
            "buffer_size": 300_000, "action_noise_sigma": 0.1})
    return AgentSettings("SAC", n_envs=1, hyperparameters={"buffer_size": 300_000})


def build_agent(settings: AgentSettings, env: VecEnv, *, seed: int) -> BaseAlgorithm:
    """A fresh Stable-Baselines3 model for ``env``, on the CPU (small networks run faster there
    than on a GPU, which would spend its time copying observations)."""
    arguments: dict[str, Any] = {key: _schedule(value) if key in ("learning_rate", "clip_range") else value
                 for key, value in settings.hyperparameters.items()
                 if key != "action_noise_sigma"}
    if "action_noise_sigma" in settings.hyperparameters:
        arguments["action_noise"] = _action_noise(
            env.action_space, float(settings.hyperparameters["action_noise_sigma"]))
    algorithm = ALGORITHMS[settings.algorithm]
    return algorithm("MlpPolicy", env, seed=seed, device="cpu", verbose=0,
                     policy_kwargs=decode_policy_kwargs(settings.policy_kwargs), **arguments)


def decode_policy_kwargs(encoded: Mapping[str, Any]) -> dict[str, Any]:
    """JSON policy arguments → Stable-Baselines3's (an activation's name → its class)."""
    decoded = dict(encoded)
    if "activation_fn" in decoded:
        decoded["activation_fn"] = ACTIVATIONS[str(decoded["activation_fn"])]
    return decoded


def describe(space: gym.Space[Any]) -> str:
    """A space in a few words, for messages: "Box(shape=(3,), float32)", "Discrete(2)"."""
    if isinstance(space, gym.spaces.Box):
        return f"Box(shape={space.shape}, {space.dtype})"
    return str(space)


def _suitable(action_space: gym.Space[Any]) -> tuple[str, ...]:
    for kind, names in SUITABLE.items():
        if isinstance(action_space, kind):
            return names
    return ()


def _schedule(value: Any) -> float | Callable[[float], float]:
    """"lin_1e-3" falls linearly from 1e-3 to 0 over training (SB3 passes the remaining
    progress, 1 → 0); a number stays constant."""
    if isinstance(value, str) and value.startswith("lin_"):
        start = float(value.removeprefix("lin_"))
        return lambda progress_remaining: progress_remaining * start
    return float(value)


def _action_noise(action_space: gym.Space[Any], sigma: float) -> NormalActionNoise:
    shape = action_space.shape or (1,)
    return NormalActionNoise(mean=np.zeros(shape), sigma=sigma * np.ones(shape))
