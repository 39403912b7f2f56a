"""Where a training's search trials run: here, one at a time, or on Ray, several at once.

``--search-backend auto`` (the default) is Ray when ``$TRAINFORGE_RAY_ADDRESS`` names a
cluster, else local; ``--search-workers N`` above 1 needs Ray. Ray is imported only when it is
chosen: the local path never imports it.
"""

from __future__ import annotations

import os

from trainforge.config import TrainConfig
from trainforge.errors import ConfigError
from trainforge.training.trial_batches import TrialRunner

RAY_ADDRESS_VARIABLE = "TRAINFORGE_RAY_ADDRESS"


def check_search_backend(config: TrainConfig) -> None:
    """Refuse, before any data is read, more workers than the chosen backend runs."""
    if config.search_workers > 1 and _backend(config) == "local":
        raise ConfigError(f"--search-workers {config.search_workers} runs trials as Ray tasks, "
                          "and the search backend is local (one trial at a time): add "
                          f"--search-backend ray, or set ${RAY_ADDRESS_VARIABLE} to a cluster")


def search_runner(config: TrainConfig) -> TrialRunner | None:
    """The runner of the search's trials; None: one at a time, in this process."""
    check_search_backend(config)
    if _backend(config) == "local":
        return None
    from trainforge.training.ray_trials import RayTrials

    return RayTrials(workers=config.search_workers,
                     address=os.environ.get(RAY_ADDRESS_VARIABLE) or None)


def _backend(config: TrainConfig) -> str:
    if config.search_backend != "auto":
        return config.search_backend
    return "ray" if os.environ.get(RAY_ADDRESS_VARIABLE) else "local"
