"""The report of a reinforcement-learning run: one self-contained HTML page (inline CSS, one
PNG, no scripts) with the learning curve, the evaluation and everything that set the run up.

It shares the evaluation report's plot helpers and look, not its template: a policy has no
test rows, confusion matrix or leaderboard, but a curve of return against timesteps.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trainforge.rl.evaluation import Evaluation
from trainforge.rl.training import CurvePoint

TEMPLATE = "rl_report.html.j2"


def write_rl_report(path: Path, *, title: str, env: str, why: str, settings: Mapping[str, Any],
                    curve: Sequence[CurvePoint], evaluation: Evaluation, timesteps: int,
                    train_s: float, wall_s: float, lineage: Mapping[str, Any]) -> Path:
    """Write the report to ``path`` (its folder is created) and return the path."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("trainforge.evaluation", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    page = environment.get_template(TEMPLATE).render(
        title=title, env=env, why=why, algorithm=settings["algorithm"],
        n_envs=settings["n_envs"], hyperparameters=dict(settings["hyperparameters"]),
        policy_kwargs=dict(settings["policy_kwargs"]), evaluation=evaluation,
        timesteps=timesteps, train_s=train_s, wall_s=wall_s, n_episodes=len(curve),
        lineage={k: v for k, v in lineage.items() if k != "config"},
        curve_png=learning_curve_png(curve, evaluation=evaluation, title=title),
        created=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(page, encoding="utf-8")
    os.replace(partial, path)  # a reader never sees half a report
    return path


def learning_curve_png(curve: Sequence[CurvePoint], *, evaluation: Evaluation,
                       title: str) -> str | None:
    """Each training episode's return against the timestep it ended at, a rolling mean over
    them, and the evaluation's mean; None when no episode finished."""
    if not curve:
        return None
    from trainforge.evaluation.plots import as_png, new_figure

    steps = np.asarray([point.timestep for point in curve], dtype=float)
    returns = np.asarray([point.episode_return for point in curve], dtype=float)
    window = max(1, min(50, len(returns) // 10))  # smooths noise, keeps the shape of a short run
    rolling = np.convolve(returns, np.ones(window) / window, mode="valid")
    figure, axes = new_figure(f"Learning curve: {title}", size=(9.6, 3.6))
    axes.scatter(steps, returns, s=4, alpha=0.25, color="#94a3b8", label="episode return")
    axes.plot(steps[window - 1:], rolling, color="#2563eb", linewidth=1.6,
              label=f"mean of {window} episodes")
    axes.axhline(evaluation.mean, color="#16a34a", linestyle="--", linewidth=1.2,
                 label=f"evaluation {evaluation.mean:.1f} ± {evaluation.std:.1f}")
    axes.set_xlabel("timesteps", fontsize=8)
    axes.set_ylabel("return", fontsize=8)
    axes.legend(fontsize=7, loc="lower right")
    return as_png(figure)
