"""An optional, small search over an algorithm's settings (Optuna, a few short trials).

Each trial trains on a short budget and is scored by its mean evaluation return. The defaults
are the first trial, so the search returns settings at least as good as them on its own
measure. Short trials favour settings that learn fast, which is what a 100k-step run needs.
"""

from __future__ import annotations

from typing import Any

import optuna

from trainforge.rl.agents import AgentSettings, choose_algorithm, default_settings
from trainforge.rl.environments import make_one_env
from trainforge.rl.evaluation import evaluate_agent
from trainforge.rl.training import train_agent

GAMMAS = [0.95, 0.98, 0.99, 0.995]


def search_settings(env_spec: str, *, algo: str | None = None, trials: int = 8,
                    timesteps_per_trial: int = 20_000, eval_episodes: int = 5,
                    seed: int = 0) -> AgentSettings:
    """The best of ``trials`` settings for ``env_spec``, the defaults first.

    Example:
        >>> best = search_settings("CartPole-v1", trials=4)  # doctest: +SKIP
        >>> agent = train_agent("CartPole-v1", settings=best)  # doctest: +SKIP
    """
    env = make_one_env(env_spec)
    algorithm = choose_algorithm(env.action_space, algo)
    defaults = default_settings(algorithm, env.action_space)
    env.close()
    candidates: dict[int, AgentSettings] = {}

    def objective(trial: optuna.Trial) -> float:
        settings = defaults if trial.number == 0 else _sample(trial, defaults)
        candidates[trial.number] = settings
        agent = train_agent(env_spec, timesteps=timesteps_per_trial, seed=seed,
                            settings=settings)
        return evaluate_agent(agent, env_spec, episodes=eval_episodes, seed=seed).mean

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    return candidates[study.best_trial.number]


def _sample(trial: optuna.Trial, defaults: AgentSettings) -> AgentSettings:
    """Around the algorithm's defaults: the knobs that matter most for each family."""
    chosen: dict[str, Any] = {
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 3e-3, log=True),
        "gamma": trial.suggest_categorical("gamma", GAMMAS)}
    if defaults.algorithm in ("PPO", "A2C"):
        n_steps = trial.suggest_categorical("n_steps", [8, 16, 32, 64, 128])
        chosen |= {"n_steps": n_steps,
                   "gae_lambda": trial.suggest_categorical("gae_lambda", [0.8, 0.9, 0.95]),
                   "ent_coef": trial.suggest_float("ent_coef", 1e-8, 1e-2, log=True)}
        if defaults.algorithm == "PPO":
            chosen |= {"n_epochs": trial.suggest_categorical("n_epochs", [5, 10, 20]),
                       "clip_range": trial.suggest_categorical("clip_range", [0.1, 0.2, 0.3]),
                       # a batch never larger than one rollout of all the environments
                       "batch_size": min(trial.suggest_categorical("batch_size", [64, 128, 256]),
                                         n_steps * defaults.n_envs)}
    else:
        chosen |= {"batch_size": trial.suggest_categorical("batch_size", [64, 128, 256])}
    return AgentSettings(defaults.algorithm, n_envs=defaults.n_envs,
                         hyperparameters={**defaults.hyperparameters, **chosen},
                         policy_kwargs=dict(defaults.policy_kwargs))
