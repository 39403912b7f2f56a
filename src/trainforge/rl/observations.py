"""Checking an observation before a policy sees it: one, or a batch, of the trained shape."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from trainforge.errors import ObservationShapeMismatch


def as_observation(observation: Any, space: gym.Space[Any]) -> np.ndarray[Any, Any]:
    """``observation`` as an array of the space's dtype, of its shape or a batch of it.

    Raises:
        ObservationShapeMismatch: any other shape (SB3 would fail later, less clearly).
    """
    expected = tuple(space.shape or ())
    array = np.asarray(observation, dtype=space.dtype)
    if array.shape != expected and array.shape[1:] != expected:
        raise ObservationShapeMismatch(expected, array.shape)
    return array
