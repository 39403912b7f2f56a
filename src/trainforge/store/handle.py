"""What the store's functions ask of their caller: the database engine, and for files the
artifact directory and the shared artifact store. A ``Workspace`` is both; the store names these small protocols instead of
importing it, so that the store sits below the workspace that composes it."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import sqlalchemy as sa

from trainforge.store.artifacts import ArtifactStore


class StoreHandle(Protocol):
    """Anything with the store's engine (``Workspace`` is one)."""

    @property
    def engine(self) -> sa.Engine: ...


class FileStoreHandle(StoreHandle, Protocol):
    """The store's engine and the directory its recorded files live under."""

    @property
    def artifacts(self) -> Path: ...

    @property
    def artifact_store(self) -> ArtifactStore | None:
        """The shared store files are also written to (``TRAINFORGE_ARTIFACTS``), or None."""
        ...

    @property
    def artifact_cache(self) -> Path:
        """Where files fetched from ``artifact_store`` are kept on this machine."""
        ...
