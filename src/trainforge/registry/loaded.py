"""A model version read back from the registry: the fitted model and its manifest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from trainforge.errors import ModelIsAPolicy

if TYPE_CHECKING:  # `trainforge models list` must not import pandas (nor the RL stack)
    from trainforge.algorithms.model import TabularModel
    from trainforge.rl.package import PolicyModel


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: int
    model: TabularModel | PolicyModel  # a policy for a reinforcement task
    manifest: dict[str, Any]
    path: Path

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def is_policy(self) -> bool:
        """A reinforcement-learning policy: it acts on observations, it does not predict rows."""
        return self.model.task.kind.value == "reinforcement"

    @property
    def tabular(self) -> TabularModel:
        """The model, for what only a table model does (predict rows, compile a fast path).

        Raises:
            ModelIsAPolicy: it is a policy; the message says how to use one.
        """
        if self.is_policy:
            raise ModelIsAPolicy(self.ref)
        return cast("TabularModel", self.model)
