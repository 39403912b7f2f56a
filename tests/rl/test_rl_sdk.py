"""The RL journey from Python: train_agent → a registered policy that acts, replays, resumes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import trainforge as tf
from trainforge.config import RLTrainConfig
from trainforge.errors import (
    ConfigError,
    ModelIsAPolicy,
    NeedsReinforcementLearning,
    PackageCorrupt,
    TrainingInterrupted,
)
from trainforge.jobs.rl import run_rl_training
from trainforge.store.runs import get_run

torch.set_num_threads(1)

UPRIGHT = [0.0, 0.0, 0.02, 0.0]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tf.Workspace:
    return tf.Workspace(tmp_path_factory.mktemp("rl-sdk"))


@pytest.fixture(scope="module")
def agent(workspace: tf.Workspace) -> tf.TrainedPolicy:
    return tf.train_agent("CartPole-v1", timesteps=1024, episodes=3, workspace=workspace)


def test_train_agent_registers_the_policy_under_the_env_id(agent):
    assert agent.ref == "cartpole-v1:1"


def test_the_agent_acts_in_the_action_space(agent):
    assert int(agent.act(UPRIGHT)) in (0, 1)


def test_the_evaluation_is_a_mean_and_std_over_the_episodes(agent):
    mean, std, returns = agent.evaluation
    assert len(returns) == 3
    assert mean == pytest.approx(np.mean(returns)) and std == pytest.approx(np.std(returns))


def test_the_report_is_in_the_package(agent):
    assert agent.report_path.read_text().startswith("<!DOCTYPE html>")


def test_the_learning_curve_is_a_metric_series_of_the_run(agent, workspace):
    series = get_run(workspace, agent.run_id)["series"]["episode_return"]
    assert series and all(point["step"] <= 1024 for point in series)


def test_a_loaded_policy_acts_as_the_trained_one(agent, workspace):
    batch = [UPRIGHT, [0.1, 0.5, -0.1, -0.5]]
    loaded = tf.load(agent.ref, workspace=workspace)
    assert loaded.act(batch).tolist() == agent.act(batch).tolist()


def test_evaluate_agent_replays_to_the_same_mean_as_training_reported(agent, workspace):
    assert tf.evaluate_agent(agent.ref, episodes=3, workspace=workspace).mean == \
        agent.evaluation.mean


def test_predicting_rows_with_a_policy_says_to_act(agent, workspace):
    with pytest.raises(ModelIsAPolicy, match="act"):
        tf.load(agent.ref, workspace=workspace).predict([{"x": 1.0}])


def test_a_tampered_policy_file_is_refused_by_name(agent, tmp_path):
    workspace = tf.Workspace(tmp_path / "tampered")
    version = workspace.registry.register(agent.loaded.model, name="pole", metrics={},
                                          lineage={})
    weights = version.path / "policy.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    with pytest.raises(PackageCorrupt, match=r"policy\.safetensors"):
        workspace.registry.load("pole")


class StopAt:
    """Interrupts training, as Ctrl-C would, once ``timesteps`` steps are done."""

    def __init__(self, timesteps: int) -> None:
        self.timesteps = timesteps

    def on_rollout_end(self, event) -> None:
        if event.timesteps >= self.timesteps:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def interrupted(workspace: tf.Workspace) -> TrainingInterrupted:
    config = RLTrainConfig(env="CartPole-v1", timesteps=2048, episodes=2, name="resumed",
                           checkpoint_every=512)
    with pytest.raises(TrainingInterrupted) as caught:
        run_rl_training(config, workspace=workspace, observers=[StopAt(1024)])
    return caught.value


def test_an_interrupted_run_says_how_to_resume_it(interrupted):
    assert f"trainforge rl train --resume {interrupted.run_id}" in str(interrupted)


@pytest.fixture(scope="module")
def resumed(interrupted: TrainingInterrupted, workspace: tf.Workspace) -> tf.TrainedPolicy:
    return tf.train_agent("CartPole-v1", resume=interrupted.run_id, workspace=workspace)


def test_a_resumed_run_continues_the_timestep_count_from_its_checkpoint(resumed):
    assert (resumed.outcome.resumed_from, resumed.outcome.timesteps) == (512, 2048)


def test_a_resumed_run_succeeds_under_its_id_and_drops_its_checkpoints(resumed, interrupted,
                                                                      workspace):
    run = get_run(workspace, interrupted.run_id)
    assert (run["status"], run["model_name"]) == ("succeeded", "resumed")
    assert not (workspace.home / "checkpoints" / interrupted.run_id).exists()


def test_without_the_rl_extra_the_error_says_what_to_install(monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "stable_baselines3" else real(name, *a))
    with pytest.raises(NeedsReinforcementLearning, match=r"stable-baselines3.*trainforge\[rl\]"):
        tf.train_agent("CartPole-v1", timesteps=64, workspace=tf.Workspace(tmp_path))


def test_resuming_an_rl_run_as_a_table_run_points_at_rl_train(interrupted, workspace):
    from trainforge.jobs.train import resume_training

    with pytest.raises(ConfigError, match=f"trainforge rl train --resume {interrupted.run_id}"):
        resume_training(interrupted.run_id, workspace=workspace)
