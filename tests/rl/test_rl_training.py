"""Training an agent: it learns, records its curve, tells observers, checkpoints and resumes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from trainforge.errors import CheckpointMismatch
from trainforge.rl.evaluation import evaluate_agent
from trainforge.rl.training import RolloutEvent, train_agent

torch.set_num_threads(1)


class RandomActor:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, observation: Any) -> np.ndarray:
        return np.asarray(self.rng.integers(2))


class StopAt:
    """Interrupts training, as Ctrl-C would, once ``timesteps`` steps are done."""

    def __init__(self, timesteps: int) -> None:
        self.timesteps = timesteps

    def on_rollout_end(self, event: RolloutEvent) -> None:
        if event.timesteps >= self.timesteps:
            raise KeyboardInterrupt


class Recorder:
    def __init__(self) -> None:
        self.events: list[RolloutEvent] = []

    def on_rollout_end(self, event: RolloutEvent) -> None:
        self.events.append(event)


@pytest.mark.slow
def test_a_short_training_run_on_cartpole_beats_random_actions():
    agent = train_agent("CartPole-v1", timesteps=12_000, seed=0)
    trained = evaluate_agent(agent, "CartPole-v1", episodes=10)
    random = evaluate_agent(RandomActor(0), "CartPole-v1", episodes=10)
    assert trained.mean > 3 * random.mean


def test_the_learning_curve_holds_each_finished_episode_in_timestep_order():
    agent = train_agent("CartPole-v1", timesteps=1024, seed=0)
    steps = [point.timestep for point in agent.learning_curve]
    assert len(steps) > 10 and steps == sorted(steps) and steps[-1] <= agent.timesteps


def test_observers_hear_after_each_rollout_how_far_training_is():
    recorder = Recorder()
    train_agent("CartPole-v1", timesteps=768, seed=0, callbacks=[recorder])
    assert [(e.timesteps, e.total_timesteps) for e in recorder.events] == [
        (256, 768), (512, 768), (768, 768)]


def test_a_resumed_run_continues_the_timestep_count_of_its_checkpoint(tmp_path: Path):
    train_agent("CartPole-v1", timesteps=512, seed=0, checkpoint_dir=tmp_path)
    resumed = train_agent("CartPole-v1", timesteps=1024, seed=0, checkpoint_dir=tmp_path)
    assert (resumed.resumed_from, resumed.timesteps) == (512, 1024)


def test_a_resumed_run_keeps_the_learning_curve_before_the_checkpoint(tmp_path: Path):
    first = train_agent("CartPole-v1", timesteps=512, seed=0, checkpoint_dir=tmp_path)
    resumed = train_agent("CartPole-v1", timesteps=1024, seed=0, checkpoint_dir=tmp_path)
    assert resumed.learning_curve[:len(first.learning_curve)] == first.learning_curve


def test_a_resumed_run_starts_from_the_checkpointed_weights(tmp_path: Path):
    first = train_agent("CartPole-v1", timesteps=512, seed=0, checkpoint_dir=tmp_path)
    resumed = train_agent("CartPole-v1", timesteps=512, seed=1, checkpoint_dir=tmp_path)
    for key, value in first.model.policy.state_dict().items():
        assert torch.equal(resumed.model.policy.state_dict()[key], value), key


def test_a_checkpoint_of_another_algorithm_is_refused(tmp_path: Path):
    train_agent("CartPole-v1", timesteps=256, seed=0, checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointMismatch, match=r"'algorithm' is 'PPO' in the checkpoint"):
        train_agent("CartPole-v1", algo="A2C", timesteps=512, seed=0, checkpoint_dir=tmp_path)


def test_an_interrupted_run_resumes_from_its_last_checkpoint(tmp_path: Path):
    with pytest.raises(KeyboardInterrupt):
        train_agent("CartPole-v1", timesteps=1024, seed=0, checkpoint_dir=tmp_path,
                    checkpoint_every=256, callbacks=[StopAt(768)])
    resumed = train_agent("CartPole-v1", timesteps=1024, seed=0, checkpoint_dir=tmp_path)
    assert (resumed.resumed_from, resumed.timesteps) == (512, 1024)


@pytest.mark.slow
def test_a_resumed_sac_run_restores_its_entropy_coefficient_and_networks(tmp_path: Path):
    first = train_agent("Pendulum-v1", algo="SAC", timesteps=150, seed=0,
                        checkpoint_dir=tmp_path)
    resumed = train_agent("Pendulum-v1", algo="SAC", timesteps=150, seed=1,
                          checkpoint_dir=tmp_path)
    assert torch.equal(resumed.model.log_ent_coef, first.model.log_ent_coef)
    assert all(torch.equal(resumed.model.policy.state_dict()[key], value)
               for key, value in first.model.policy.state_dict().items())


def test_a_resumed_dqn_run_keeps_the_transitions_of_its_replay_buffer(tmp_path: Path):
    first = train_agent("CartPole-v1", algo="DQN", timesteps=300, seed=0,
                        checkpoint_dir=tmp_path)
    resumed = train_agent("CartPole-v1", algo="DQN", timesteps=300, seed=1,
                          checkpoint_dir=tmp_path)
    before, after = first.model.replay_buffer, resumed.model.replay_buffer
    stored = first.timesteps  # DQN collects 256 steps between updates: 512 here
    assert after.pos == stored
    np.testing.assert_array_equal(after.observations[:stored], before.observations[:stored])
