"""What the registry returns about versions and models (the fitted model is LoadedModel)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ModelVersion:
    """One registered version: where its package is and what it scored."""

    name: str
    version: int
    path: Path
    created_at: datetime
    task: str  # the task kind: binary, multiclass or regression
    metrics: dict[str, Any]
    run_id: str | None
    dataset_fingerprint: str | None
    description: str
    aliases: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class ModelSummary:
    """One row of ``trainforge models list``: a name, its latest version and its aliases."""

    name: str
    latest_version: int
    n_versions: int
    aliases: dict[str, int]
    task: str  # the task kind: binary, multiclass or regression
    metric: str
    metric_value: float | None
    created_at: datetime
