"""PPO on CartPole-v1 with trainforge's defaults: 100,000 timesteps, then 20 evaluation episodes.

Issue 4's bar: a mean return >= 475 over 20 episodes (deterministic actions) within 100,000
timesteps. Prints the evaluation (mean ± std), the wall time of training, and the first
timestep at which the mean of the last 20 *training* episodes (stochastic actions) reached 475,
read from the learning curve.

    python benchmarks/rl/bench_cartpole.py [--timesteps 100000] [--seeds 0 1 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from trainforge.rl.evaluation import evaluate_agent
from trainforge.rl.training import CurvePoint, train_agent

TARGET = 475.0


def first_reaching(curve: list[CurvePoint], target: float, *, window: int = 20) -> int | None:
    returns = [point.episode_return for point in curve]
    for index in range(window - 1, len(curve)):
        if np.mean(returns[index - window + 1:index + 1]) >= target:
            return curve[index].timestep
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timesteps", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    for seed in args.seeds:
        started = time.perf_counter()
        agent = train_agent("CartPole-v1", timesteps=args.timesteps, seed=seed,
                            threads=args.threads)
        train_s = time.perf_counter() - started
        result = evaluate_agent(agent, "CartPole-v1", episodes=20)
        reached = first_reaching(agent.learning_curve, TARGET)
        print(f"seed {seed}: {agent.algorithm} {agent.timesteps:,} timesteps in {train_s:.1f} s "
              f"(threads {args.threads}); evaluation over 20 episodes: "
              f"{result.mean:.1f} ± {result.std:.1f} (min {min(result.returns):.0f}); "
              f"training mean of 20 episodes first >= {TARGET:.0f} at "
              f"{reached if reached is not None else 'never'}", flush=True)


if __name__ == "__main__":
    main()
