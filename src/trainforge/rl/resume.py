"""An agent's training state as a checkpoint (safetensors + JSON), and resuming from one.

A checkpoint holds every network and optimizer SB3 itself would save (``get_parameters``),
its extra tensors (SAC's entropy coefficient), the timestep count and the learning curve so
far, and an off-policy agent's replay buffer (the transitions stored so far), so a resumed
DQN, SAC or TD3 keeps learning from the experience it had.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from stable_baselines3.common.save_util import recursive_getattr
from stable_baselines3.common.utils import get_device

from trainforge.runtime.checkpoints import (
    check_compatible,
    join_optimizer_state,
    load_checkpoint,
    prefixed,
    save_checkpoint,
    split_optimizer_state,
)

if TYPE_CHECKING:
    from trainforge.rl.training import TrainedAgent

KIND = "trainforge-rl"


def save_training_state(directory: Path, agent: TrainedAgent) -> Path:
    """Write the agent's checkpoint into ``directory`` (atomically); returns its manifest."""
    tensors: dict[str, torch.Tensor] = {}
    optimizers: dict[str, Any] = {}
    for name, state in agent.model.get_parameters().items():
        if "param_groups" in state:  # an optimizer: tensors apart, the rest in JSON
            moments, plain = split_optimizer_state(state, prefix=f"optim/{name}/")
            tensors.update(moments)
            optimizers[name] = plain
        else:
            tensors.update({f"module/{name}/{key}": value for key, value in state.items()})
    _, variables = agent.model._get_torch_save_params()
    for name in variables:
        tensors[f"var/{name}"] = recursive_getattr(agent.model, name).detach()
    tensors.update(_replay_buffer_tensors(agent))
    meta = {"kind": KIND, "num_timesteps": agent.timesteps, "optimizers": optimizers,
            "replay_buffer": _replay_buffer_position(agent),
            "learning_curve": [[p.timestep, p.episode_return] for p in agent.learning_curve],
            "architecture": _architecture(agent), "settings": agent.settings.as_json()}
    return save_checkpoint(directory, meta=meta, tensors=tensors)


def resume_from(directory: Path, agent: TrainedAgent) -> int | None:
    """Load the checkpoint in ``directory`` into ``agent``; the timestep it held, or None.

    Raises:
        CheckpointMismatch: it was written for another environment, algorithm or settings.
    """
    from trainforge.rl.training import CurvePoint  # the agent's own module imports this one

    checkpoint = load_checkpoint(directory)
    if checkpoint is None:
        return None
    check_compatible(checkpoint, architecture=_architecture(agent),
                     settings=agent.settings.as_json())
    model = agent.model
    parameters: dict[str, Any] = {}
    for name in model.get_parameters():
        plain = checkpoint.meta["optimizers"].get(name)
        parameters[name] = (
            prefixed(checkpoint.tensors, f"module/{name}/") if plain is None
            else join_optimizer_state(checkpoint.tensors, plain, prefix=f"optim/{name}/"))
    model.set_parameters(parameters, exact_match=True, device=get_device("cpu"))
    for key, value in prefixed(checkpoint.tensors, "var/").items():
        with torch.no_grad():
            recursive_getattr(model, key).copy_(value)
    _restore_replay_buffer(agent, checkpoint.meta.get("replay_buffer"),
                           prefixed(checkpoint.tensors, "buffer/"))
    model.num_timesteps = int(checkpoint.meta["num_timesteps"])
    agent.learning_curve[:] = [CurvePoint(int(t), float(r))
                               for t, r in checkpoint.meta["learning_curve"]]
    return model.num_timesteps


def _architecture(agent: TrainedAgent) -> dict[str, Any]:
    return {"kind": KIND, "env": agent.env_spec, "algorithm": agent.algorithm}


BUFFER_ARRAYS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")


def _replay_buffer_tensors(agent: TrainedAgent) -> dict[str, torch.Tensor]:
    buffer = getattr(agent.model, "replay_buffer", None)
    if buffer is None:  # on-policy: its rollout buffer is refilled before every update
        return {}
    stored = buffer.buffer_size if buffer.full else buffer.pos
    return {f"buffer/{name}": torch.from_numpy(np.ascontiguousarray(getattr(buffer, name)[:stored]))
            for name in BUFFER_ARRAYS if getattr(buffer, name, None) is not None}


def _replay_buffer_position(agent: TrainedAgent) -> dict[str, Any] | None:
    buffer = getattr(agent.model, "replay_buffer", None)
    return None if buffer is None else {"pos": int(buffer.pos), "full": bool(buffer.full)}


def _restore_replay_buffer(agent: TrainedAgent, position: dict[str, Any] | None,
                           arrays: dict[str, torch.Tensor]) -> None:
    buffer = getattr(agent.model, "replay_buffer", None)
    if buffer is None or position is None:
        return
    for name, values in arrays.items():
        getattr(buffer, name)[:len(values)] = values.numpy()
    buffer.pos, buffer.full = int(position["pos"]), bool(position["full"])
