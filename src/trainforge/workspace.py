"""The workspace: home directory, metadata database and artifact store, in one object.

A workspace is passed to whatever needs it, never kept in a global::

    ws = Workspace(tmp_path)            # or Workspace() for $TRAINFORGE_HOME / ~/.trainforge
    ws.registry.list_models()
"""

from __future__ import annotations

import os
import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from trainforge.store import migrate
from trainforge.store.engine import create_store_engine

if TYPE_CHECKING:
    from trainforge.registry.registry import Registry

HOME_VARIABLE = "TRAINFORGE_HOME"
DATABASE_VARIABLE = "TRAINFORGE_DATABASE_URL"


def default_home() -> Path:
    """``$TRAINFORGE_HOME``, else ``~/.trainforge``."""
    return Path(os.environ.get(HOME_VARIABLE) or Path.home() / ".trainforge").expanduser()


class Workspace:
    """Where trainforge keeps its database and files.

    Args:
        home: the directory; defaults to ``$TRAINFORGE_HOME``, else ``~/.trainforge``.
        database_url: a SQLAlchemy URL; defaults to ``$TRAINFORGE_DATABASE_URL``, else
            SQLite at ``<home>/trainforge.db``.

    Nothing is created until first used: the engine is made, and the schema migrated to the
    newest revision, on first access to ``engine``.
    """

    def __init__(self, home: Path | None = None, *, database_url: str | None = None) -> None:
        self.home = (Path(home).expanduser() if home is not None else default_home()).absolute()
        self.database_url = (database_url or os.environ.get(DATABASE_VARIABLE)
                             or f"sqlite:///{self.home / 'trainforge.db'}")
        self._engine: sa.Engine | None = None
        self._opening = threading.Lock()  # threads sharing a workspace share one engine

    def __repr__(self) -> str:
        return f"Workspace(home={str(self.home)!r}, database={self._safe_url()!r})"

    def __getstate__(self) -> dict[str, object]:
        # a copy (or a worker process) opens its own engine: connections cannot be shared
        return {"home": self.home, "database_url": self.database_url}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["home"], database_url=state["database_url"])  # type: ignore[misc]

    def _safe_url(self) -> str:
        return sa.make_url(self.database_url).render_as_string(hide_password=True)

    @property
    def artifacts(self) -> Path:
        """The directory model packages and other files go in (created on first write)."""
        return self.home / "artifacts"

    @property
    def engine(self) -> sa.Engine:
        """The database, opened and migrated to the newest schema on first use."""
        with self._opening:
            if self._engine is None:
                self.home.mkdir(parents=True, exist_ok=True)
                engine = create_store_engine(self.database_url)
                migrate.upgrade(engine)
                self._engine = engine
            return self._engine

    @cached_property
    def registry(self) -> Registry:
        """The model registry of this workspace."""
        from trainforge.registry.registry import Registry  # registry builds on the workspace

        return Registry(self)

    def close(self) -> None:
        """Release database connections (the workspace opens them again when next used)."""
        with self._opening:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None
