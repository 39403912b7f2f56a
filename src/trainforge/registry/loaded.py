"""A model version read back from the registry: the fitted model and its manifest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # `trainforge models list` must not import pandas
    from trainforge.algorithms.model import TabularModel


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: int
    model: TabularModel
    manifest: dict[str, Any]
    path: Path

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"
