"""A trained policy as a registry model: what the registry stores, and serving and the SDK load.

The registry stores a model that names its ``task`` and ``features`` and saves itself natively
(``save_native`` / ``load_native``, see ``registry/safe_files.py``). A policy has no table of
features: its input is an observation of the environment's shape, recorded in its files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from trainforge.data.task import Task, TaskKind
from trainforge.errors import InvalidRequest, ObservationShapeMismatch
from trainforge.rl.policy_files import LoadedPolicy, load_policy

POLICY_TASK = Task(target="action", kind=TaskKind.REINFORCEMENT, metric="mean_return")


class PolicyModel:
    """A policy that acts on observations; registered, served and loaded like a model."""

    task = POLICY_TASK

    def __init__(self, policy: LoadedPolicy) -> None:
        self.policy = policy
        # the registry writes a signature from these; a policy's input is its observation
        self.features: list[Any] = []

    @property
    def algorithm(self) -> str:
        return self.policy.algorithm

    @property
    def env_spec(self) -> str:
        """The environment it was trained on: a Gymnasium id or ``module:Class``."""
        return str(self.policy.description["env"])

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.policy.description["settings"])

    @property
    def observation_shape(self) -> tuple[int, ...]:
        return tuple(self.policy.observation_space.shape or ())

    @property
    def action_space(self) -> gym.Space[Any]:
        return self.policy.action_space

    def act(self, observation: Any) -> np.ndarray[Any, Any]:
        """The deterministic action for one observation (or one per row of a batch)."""
        return self.policy.act(_numbers(observation))

    def act_one(self, observation: Any) -> Any:
        """One observation of exactly the trained shape → its action as JSON (int or list)."""
        array = _numbers(observation)
        if array.shape != self.observation_shape:
            raise ObservationShapeMismatch(self.observation_shape, array.shape)
        return self.policy.act(array).tolist()

    def act_many(self, observations: Any) -> list[Any]:
        """A batch ``(n, *shape)`` of observations → one JSON action per observation."""
        array = _numbers(observations)
        if array.ndim == 0 or array.shape[1:] != self.observation_shape:
            raise ObservationShapeMismatch(self.observation_shape, array.shape)
        if len(array) == 0:
            return []
        return list(self.policy.act(array).tolist())

    def save_native(self, directory: Path, stem: str) -> list[str]:
        return self.policy.save(directory, stem=stem)

    @classmethod
    def load_native(cls, directory: Path, stem: str) -> PolicyModel:
        return cls(load_policy(directory, stem=stem))


def _numbers(observation: Any) -> np.ndarray[Any, Any]:
    """An observation as floats; a string or a ragged list is the sender's mistake."""
    try:
        return np.asarray(observation, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InvalidRequest(f"the observation must be numbers in nested lists of one shape "
                             f"({error})") from None
