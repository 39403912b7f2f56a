"""Gymnasium spaces as JSON and back, so a policy file rebuilds its network without the
environment (and without unpickling the spaces, as SB3's own zip would)."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np


def encode_space(space: gym.Space[Any]) -> dict[str, Any]:
    """``{"type": "Box", "shape": [4], "dtype": "float32", "low": [...], "high": [...]}``;
    infinite bounds are the strings "inf" and "-inf" (JSON has no infinity)."""
    if isinstance(space, gym.spaces.Box):
        return {"type": "Box", "shape": list(space.shape), "dtype": str(space.dtype),
                "low": _bounds(space.low), "high": _bounds(space.high)}
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, gym.spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": space.nvec.tolist()}
    if isinstance(space, gym.spaces.MultiBinary):
        return {"type": "MultiBinary", "n": np.asarray(space.n).tolist()}
    raise ValueError(f"cannot describe the space {space} in JSON; policies take Box, Discrete, "
                     "MultiDiscrete or MultiBinary spaces")


def decode_space(encoded: dict[str, Any]) -> gym.Space[Any]:
    """The inverse of :func:`encode_space`."""
    kind = encoded["type"]
    if kind == "Box":
        dtype = np.dtype(encoded["dtype"])
        shape = tuple(encoded["shape"])
        low = np.asarray(_floats(encoded["low"]), dtype=np.float64).reshape(shape)
        high = np.asarray(_floats(encoded["high"]), dtype=np.float64).reshape(shape)
        return gym.spaces.Box(low=low.astype(dtype), high=high.astype(dtype), shape=shape,
                              dtype=dtype.type)
    if kind == "Discrete":
        return gym.spaces.Discrete(int(encoded["n"]), start=int(encoded.get("start", 0)))
    if kind == "MultiDiscrete":
        return gym.spaces.MultiDiscrete(encoded["nvec"])
    if kind == "MultiBinary":
        return gym.spaces.MultiBinary(encoded["n"])
    raise ValueError(f"unknown space type {kind!r}")


def _bounds(values: np.ndarray[Any, Any]) -> list[Any]:
    return [float(v) if math.isfinite(v) else str(float(v))
            for v in np.asarray(values, dtype=np.float64).ravel()]


def _floats(values: list[Any]) -> list[float]:
    return [float(v) for v in values]  # float("inf") reads the strings back
