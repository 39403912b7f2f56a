"""Training an agent: Stable-Baselines3's loop, observed, checkpointed and resumable.

The loop is SB3's own; trainforge adds what a platform needs around it: a learning curve
(each finished episode's return against the timestep it ended at), progress events for the
CLI and the UI, and checkpoints in safetensors + JSON (SB3's zip pickles its objects, so it is
never written nor read) from which a killed run continues its timestep count.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback

from trainforge.rl.agents import AgentSettings, build_agent, choose_algorithm, default_settings
from trainforge.rl.environments import make_env
from trainforge.rl.observations import as_observation
from trainforge.rl.resume import resume_from, save_training_state
from trainforge.runtime.callbacks import notify


@dataclass(frozen=True)
class CurvePoint:
    """One finished training episode: its return, and the timestep it ended at."""

    timestep: int
    episode_return: float


@dataclass(frozen=True)
class RolloutEvent:
    """Sent after each rollout (a batch of steps collected), to the ``on_rollout_end`` hook."""

    timesteps: int
    total_timesteps: int
    episodes: int
    recent_mean_return: float | None  # the last 20 training episodes (stochastic actions)
    elapsed_s: float


@dataclass
class TrainedAgent:
    """A trained Stable-Baselines3 model with what trainforge learned about its training."""

    env_spec: str
    settings: AgentSettings
    model: BaseAlgorithm
    learning_curve: list[CurvePoint] = field(default_factory=list)
    wall_s: float = 0.0
    resumed_from: int | None = None  # the timestep a checkpoint held, when training resumed

    @property
    def algorithm(self) -> str:
        return self.settings.algorithm

    @property
    def timesteps(self) -> int:
        return int(self.model.num_timesteps)

    def act(self, observation: Any) -> np.ndarray[Any, Any]:
        """The deterministic action for one observation (or one per row of a batch)."""
        array = as_observation(observation, self.model.observation_space)
        action, _ = self.model.predict(array, deterministic=True)
        return np.asarray(action)


def train_agent(env_spec: str, *, algo: str | None = None, timesteps: int = 100_000,
                seed: int = 0, checkpoint_dir: Path | None = None,
                checkpoint_every: int = 10_000, settings: AgentSettings | None = None,
                threads: int = 1, callbacks: Sequence[Any] = ()) -> TrainedAgent:
    """Train an agent on ``env_spec`` for ``timesteps`` environment steps in all.

    Args:
        algo: PPO, A2C, DQN, SAC or TD3; None picks one to fit the action space.
            Ignored when ``settings`` are given (they name their algorithm).
        checkpoint_dir: when given, a checkpoint is written there every ``checkpoint_every``
            steps and at the end; a checkpoint already there is resumed (its steps count
            towards ``timesteps``).
        settings: overrides the defaults for the algorithm (e.g. from a search).
        threads: torch threads; small networks gain nothing from more than one or two.
        callbacks: observers with any of ``on_rollout_end(RolloutEvent)``,
            ``on_fit_end(TrainedAgent)`` and ``on_error(exception)``.

    Example:
        >>> agent = train_agent("CartPole-v1", timesteps=100_000)  # doctest: +SKIP
    """
    started = time.perf_counter()
    with _torch_threads(threads):
        probe = make_env(env_spec, n_envs=1, seed=seed)
        # given settings name their algorithm: it too must fit the action space
        algorithm = choose_algorithm(probe.action_space,
                                     settings.algorithm if settings is not None else algo)
        probe.close()
        chosen = settings or default_settings(algorithm, probe.action_space)
        env = make_env(env_spec, n_envs=chosen.n_envs, seed=seed)
        agent = TrainedAgent(env_spec=env_spec, settings=chosen,
                             model=build_agent(chosen, env, seed=seed))
        if checkpoint_dir is not None:
            agent.resumed_from = resume_from(checkpoint_dir, agent)
        observer = _Observer(agent, callbacks=callbacks, checkpoint_dir=checkpoint_dir,
                             checkpoint_every=checkpoint_every, started=started)
        try:
            if agent.timesteps < timesteps:
                # reset_num_timesteps=False: SB3 adds the steps already done, so a resumed
                # run's schedules (learning rate, exploration) continue where they stopped
                agent.model.learn(total_timesteps=timesteps - agent.timesteps,
                                  callback=observer, reset_num_timesteps=False)
        except BaseException as exc:
            notify(callbacks, "on_error", exc)
            raise
        finally:
            env.close()
        if checkpoint_dir is not None:
            save_training_state(checkpoint_dir, agent)
    agent.wall_s = time.perf_counter() - started
    notify(callbacks, "on_fit_end", agent)
    return agent


class _Observer(BaseCallback):
    """SB3's hook into its loop: records the curve, tells observers, writes checkpoints."""

    def __init__(self, agent: TrainedAgent, *, callbacks: Sequence[Any],
                 checkpoint_dir: Path | None, checkpoint_every: int, started: float) -> None:
        super().__init__()
        self.agent, self.callbacks, self.started = agent, callbacks, started
        self.checkpoint_dir, self.checkpoint_every = checkpoint_dir, checkpoint_every
        self.last_checkpoint = agent.timesteps

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", ()):
            episode = info.get("episode")  # set by SB3's Monitor when an episode ends
            if episode is not None:
                self.agent.learning_curve.append(
                    CurvePoint(int(self.num_timesteps), float(episode["r"])))
        return True

    def _on_rollout_start(self) -> None:
        # here the previous rollout's update is done: a checkpoint holds the trained weights
        if (self.checkpoint_dir is not None
                and self.num_timesteps - self.last_checkpoint >= self.checkpoint_every):
            save_training_state(self.checkpoint_dir, self.agent)
            self.last_checkpoint = self.num_timesteps

    def _on_rollout_end(self) -> None:
        curve = self.agent.learning_curve
        recent = [point.episode_return for point in curve[-20:]]
        notify(self.callbacks, "on_rollout_end", RolloutEvent(
            timesteps=int(self.num_timesteps), total_timesteps=int(self.model._total_timesteps),
            episodes=len(curve), recent_mean_return=float(np.mean(recent)) if recent else None,
            elapsed_s=time.perf_counter() - self.started))


@contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
