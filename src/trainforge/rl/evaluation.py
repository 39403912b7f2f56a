"""Evaluating an agent: its mean ± std return over whole episodes, with deterministic actions.

Returns are summed from the environment's own rewards, episode by episode, each episode seeded
(``seed``, ``seed + 1``, …) so the same agent always scores the same.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import numpy as np

from trainforge.rl.environments import make_one_env


class Actor(Protocol):
    """Anything that acts: a trained agent, or a policy loaded from its files."""

    def act(self, observation: Any) -> np.ndarray[Any, Any]: ...


class Evaluation(NamedTuple):
    """Unpacks as ``mean, std, returns = evaluate_agent(...)``."""

    mean: float
    std: float
    returns: list[float]


def evaluate_agent(agent: Actor, env_spec: str, *, episodes: int = 20,
                   seed: int = 1_000_000) -> Evaluation:
    """Replay ``episodes`` episodes of ``env_spec`` with ``agent``'s deterministic actions.

    The default seed is far from the training seeds (0, 1, … per environment copy), so the
    evaluation episodes are not the ones training started from.
    """
    env = make_one_env(env_spec)
    returns = []
    try:
        for episode in range(episodes):
            observation, _ = env.reset(seed=seed + episode)
            total, done = 0.0, False
            while not done:
                action = agent.act(observation)
                observation, reward, terminated, truncated, _ = env.step(_as_env_action(action))
                total += float(reward)
                done = bool(terminated or truncated)
            returns.append(total)
    finally:
        env.close()
    return Evaluation(mean=float(np.mean(returns)), std=float(np.std(returns)), returns=returns)


def _as_env_action(action: np.ndarray[Any, Any]) -> Any:
    # a discrete action is a 0-d array: environments compare it with ints, so give them one
    return action.item() if action.ndim == 0 else action
