"""Environments from a name: a Gymnasium id ("CartPole-v1") or the user's own "module:Class".

Every failure to find or build one becomes an error that names the id or the module, so a typo
or a missing dependency reads as such instead of a traceback from deep inside Gymnasium.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import gymnasium as gym
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from trainforge.errors import EnvironmentImportFailed, UnknownEnvironment


def make_env(spec: str, *, n_envs: int, seed: int) -> VecEnv:
    """``n_envs`` copies of the environment, stepped together, each seeded ``seed + rank``.

    The copies run in this process (DummyVecEnv): on a few cores, worker processes cost more
    than the small environments they would step.

    Raises:
        UnknownEnvironment: ``spec`` is not a registered id (the message lists close ones).
        EnvironmentImportFailed: the module of ``module:Class`` (or of a registered id) fails.
    """
    factory = env_factory(spec)
    with _naming_import_failures(spec):
        return make_vec_env(factory, n_envs=n_envs, seed=seed, vec_env_cls=DummyVecEnv)


def env_factory(spec: str) -> Callable[[], gym.Env[Any, Any]]:
    """A function that builds one fresh environment for ``spec`` (checked now, built later)."""
    if ":" in spec and _is_class_reference(spec):
        env_class = _import_class(spec)
        return lambda: env_class()
    if spec not in gym.registry:
        raise UnknownEnvironment(spec, sorted(gym.registry))
    return lambda: gym.make(spec)


def make_one_env(spec: str) -> gym.Env[Any, Any]:
    """One environment, not vectorised: for replaying a policy episode by episode."""
    factory = env_factory(spec)
    with _naming_import_failures(spec):
        return factory()


def _is_class_reference(spec: str) -> bool:
    # Gymnasium's own "module:Env-v0" form names an id (it has a version); ours names a class
    return spec.rsplit(":", 1)[1].replace(".", "").isidentifier()


def _import_class(spec: str) -> Callable[[], gym.Env[Any, Any]]:
    module_name, class_path = spec.rsplit(":", 1)
    with _current_directory_importable():
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # an import runs the user's code: any failure is theirs
            raise EnvironmentImportFailed(module_name, f"{type(exc).__name__}: {exc}") from exc
    found: Any = module
    for part in class_path.split("."):
        if not hasattr(found, part):
            raise EnvironmentImportFailed(module_name, f"it has no attribute {class_path!r}")
        found = getattr(found, part)
    if not (isinstance(found, type) and issubclass(found, gym.Env)):
        raise EnvironmentImportFailed(module_name, f"{class_path!r} is not a gymnasium.Env "
                                      "subclass")
    env_class: Callable[[], gym.Env[Any, Any]] = found
    return env_class


@contextmanager
def _current_directory_importable() -> Iterator[None]:
    """Users keep their environment next to their data: the console script does not put the
    current directory on ``sys.path``, so add it (last, shadowing nothing) while importing."""
    here = os.getcwd()
    added = here not in sys.path
    if added:
        sys.path.append(here)
    try:
        yield
    finally:
        if added:
            sys.path.remove(here)


@contextmanager
def _naming_import_failures(spec: str) -> Iterator[None]:
    """A registered id whose dependency is missing (Box2D, MuJoCo, Atari) fails when built."""
    try:
        yield
    except (ImportError, gym.error.DependencyNotInstalled) as exc:
        module = getattr(exc, "name", None) or spec.split(":")[0]
        raise EnvironmentImportFailed(module, f"{type(exc).__name__}: {exc}") from exc
