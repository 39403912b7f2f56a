"""A trained policy as safe files: its weights in safetensors, everything else in JSON.

SB3's own ``.zip`` holds cloudpickled objects, and loading one runs code from the file; these
two files rebuild the same policy from the algorithm's policy class, the spaces described in
JSON and the weights, so serving a policy never unpickles anything.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from stable_baselines3.common.policies import BasePolicy

from trainforge.errors import PackageCorrupt
from trainforge.rl.agents import ALGORITHMS, ON_POLICY, decode_policy_kwargs
from trainforge.rl.observations import as_observation
from trainforge.rl.spaces import decode_space, encode_space

if TYPE_CHECKING:
    from trainforge.rl.training import TrainedAgent

FORMAT_VERSION = 1
STEM = "policy"
WEIGHTS_SUFFIX = ".safetensors"
DESCRIPTION_SUFFIX = ".json"


@dataclass(frozen=True)
class LoadedPolicy:
    """A policy read back from its files: it acts, it does not train."""

    algorithm: str
    description: dict[str, Any]  # the JSON file: settings, spaces, environment, timesteps
    policy: BasePolicy

    @property
    def observation_space(self) -> gym.Space[Any]:
        return self.policy.observation_space

    @property
    def action_space(self) -> gym.Space[Any]:
        return self.policy.action_space

    def act(self, observation: Any) -> np.ndarray[Any, Any]:
        """The deterministic action for one observation (or one per row of a batch).

        Raises:
            ObservationShapeMismatch: the observation is not of the trained shape.
        """
        array = as_observation(observation, self.observation_space)
        action, _ = self.policy.predict(array, deterministic=True)
        return np.asarray(action)

    def save(self, directory: Path, *, stem: str = STEM) -> list[str]:
        """Write the policy again (into a model package, say); returns the files' names."""
        description = {k: v for k, v in self.description.items() if k != "weights_sha256"}
        return _write(directory, stem, description, self.policy)


def save_policy(agent: TrainedAgent, directory: Path, *, stem: str = STEM) -> list[str]:
    """Write the agent's policy into ``directory`` as ``<stem>.json`` and
    ``<stem>.safetensors``; returns the names of the files written."""
    model = agent.model
    description = {
        "format_version": FORMAT_VERSION, "algorithm": agent.algorithm,
        "env": agent.env_spec, "timesteps": agent.timesteps,
        "settings": agent.settings.as_json(),
        # SB3 hands on-policy networks their `use_sde` apart from the policy arguments
        "use_sde": bool(getattr(model, "use_sde", False)),
        "observation_space": encode_space(model.observation_space),
        "action_space": encode_space(model.action_space)}
    return _write(directory, stem, description, model.policy)


def _write(directory: Path, stem: str, description: dict[str, Any],
           policy: BasePolicy) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    weights = save_tensors({key: value.detach().cpu().contiguous()
                            for key, value in policy.state_dict().items()})
    (directory / f"{stem}{WEIGHTS_SUFFIX}").write_bytes(weights)
    described = {**description, "weights_sha256": hashlib.sha256(weights).hexdigest()}
    (directory / f"{stem}{DESCRIPTION_SUFFIX}").write_text(json.dumps(described, indent=1))
    return [f"{stem}{DESCRIPTION_SUFFIX}", f"{stem}{WEIGHTS_SUFFIX}"]


def load_policy(directory: Path, *, stem: str = STEM) -> LoadedPolicy:
    """The policy saved in ``directory`` under ``stem`` by :func:`save_policy`.

    Raises:
        PackageCorrupt: a file is missing or damaged, or was written by a newer format.
    """
    description = _read_description(directory / f"{stem}{DESCRIPTION_SUFFIX}")
    weights_path = directory / f"{stem}{WEIGHTS_SUFFIX}"
    weights = _read_weights(weights_path, description)
    algorithm = str(description["algorithm"])
    arguments = decode_policy_kwargs(description["settings"]["policy_kwargs"])
    if algorithm in ON_POLICY:
        arguments["use_sde"] = bool(description["use_sde"])
    policy_class = ALGORITHMS[algorithm].policy_aliases["MlpPolicy"]
    policy = policy_class(decode_space(description["observation_space"]),
                          decode_space(description["action_space"]),
                          lambda _: 0.0,  # a learning rate for an optimizer that never steps
                          **arguments)
    try:
        policy.load_state_dict(weights, strict=True)
    except RuntimeError as exc:
        raise PackageCorrupt(str(weights_path),
                             f"holds weights that do not fit a {algorithm} policy ({exc})") from exc
    policy.set_training_mode(False)
    return LoadedPolicy(algorithm=algorithm, description=description, policy=policy)


def _read_description(path: Path) -> dict[str, Any]:
    try:
        description = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise PackageCorrupt(str(path), f"cannot be read as JSON ({exc})") from exc
    if not isinstance(description, dict) or description.get("algorithm") not in ALGORITHMS:
        raise PackageCorrupt(str(path), "does not describe a policy of PPO, A2C, DQN, SAC "
                             "or TD3")
    if description.get("format_version") != FORMAT_VERSION:
        raise PackageCorrupt(str(path), f"has format version "
                             f"{description.get('format_version')}; this trainforge reads "
                             f"version {FORMAT_VERSION}")
    return description


def _read_weights(path: Path, description: dict[str, Any]) -> dict[str, Any]:
    try:
        payload = path.read_bytes()
    except OSError as exc:
        raise PackageCorrupt(str(path), f"cannot be read ({exc.strerror})") from exc
    if hashlib.sha256(payload).hexdigest() != description.get("weights_sha256"):
        raise PackageCorrupt(str(path), f"has a sha256 that differs from the one "
                             f"{path.with_suffix(DESCRIPTION_SUFFIX).name} recorded")
    return dict(load_tensors(payload))
