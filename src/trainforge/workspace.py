"""The workspace: home directory, metadata database and artifact store, in one object.

A workspace is passed to whatever needs it, never kept in a global::

    ws = Workspace(tmp_path)            # or Workspace() for $TRAINFORGE_HOME / ~/.trainforge
    ws.registry.list_models()

The workspace holds password and token hashes, session and CSRF secrets, uploads and first-start
credentials, so it is its owner's alone: the home and the directories trainforge makes for
secrets and uploads are 0700, the SQLite database (with its -wal and -shm) and secret files
0600. Modes are set explicitly, whatever the umask, and a workspace an older trainforge left
readable by others is tightened when it is next opened.
"""

from __future__ import annotations

import os
import threading
from functools import cached_property
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from trainforge.registry.registry import Registry
from trainforge.store import migrate
from trainforge.store.artifacts import ARTIFACTS_VARIABLE, ArtifactStore, open_artifact_store
from trainforge.store.engine import create_store_engine
from trainforge.store.private_files import (
    OWNER_ONLY_DIRECTORY,
    OWNER_ONLY_FILE,
    private_directory,
    tighten,
)

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
        artifacts_url: where model packages and uploads are shared (``s3://BUCKET/PREFIX``);
            defaults to ``$TRAINFORGE_ARTIFACTS``, else none: the home's folder only.

    Nothing is created until first used: the engine is made, and the schema created (a new
    store) or migrated (an older one) to the newest revision, on first access to ``engine``.
    """

    def __init__(self, home: Path | None = None, *, database_url: str | None = None,
                 artifacts_url: str | None = None) -> None:
        self.home = (Path(home).expanduser() if home is not None else default_home()).absolute()
        self.database_url = (database_url or os.environ.get(DATABASE_VARIABLE)
                             or f"sqlite:///{self.home / 'trainforge.db'}")
        self.artifacts_url = artifacts_url or os.environ.get(ARTIFACTS_VARIABLE) or None
        self._engine: sa.Engine | None = None
        self._opening = threading.Lock()  # threads sharing a workspace share one engine

    def __repr__(self) -> str:
        return f"Workspace(home={str(self.home)!r}, database={self._safe_url()!r})"

    def __getstate__(self) -> dict[str, object]:
        # a copy (or a worker process) opens its own engine: connections cannot be shared
        return {"home": self.home, "database_url": self.database_url,
                "artifacts_url": self.artifacts_url}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["home"], database_url=state["database_url"],  # type: ignore[misc]
                      artifacts_url=state.get("artifacts_url"))

    def _safe_url(self) -> str:
        return sa.make_url(self.database_url).render_as_string(hide_password=True)

    @property
    def artifacts(self) -> Path:
        """The directory model packages and other files go in (created on first write)."""
        return self.home / "artifacts"

    @cached_property
    def artifact_store(self) -> ArtifactStore | None:
        """The shared store ``artifacts_url`` names, or None (files stay under ``artifacts``).
        Checked (bucket, credentials, endpoint) on first use, not here."""
        return open_artifact_store(self.artifacts_url or "")

    @property
    def artifact_cache(self) -> Path:
        """Where files fetched from the ``artifact_store`` are kept (model packages by version
        and manifest hash)."""
        return self.home / "cache"

    @property
    def prediction_log(self) -> Path:
        """Where served predictions are logged (``monitoring.prediction_log``): one folder
        per deployment."""
        return self.artifacts / "predictions"

    @property
    def secrets(self) -> Path:
        """The directory of credentials written for a person to read (``write_secret``)."""
        return self.home / "secrets"

    def write_secret(self, name: str, text: str) -> Path:
        """Write ``text`` to ``secrets/<name>``, readable by the workspace's owner only (never
        even briefly by anyone else), replacing an earlier file of that name; returns its path.
        """
        path = private_directory(self.secrets) / name
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW,
                             OWNER_ONLY_FILE)
        with os.fdopen(descriptor, "w") as handle:
            os.fchmod(descriptor, OWNER_ONLY_FILE)  # an existing file keeps its mode on open
            handle.write(text)
        return path

    @property
    def engine(self) -> sa.Engine:
        """The database, opened and brought to the newest schema on first use."""
        with self._opening:
            if self._engine is None:
                self._make_private()
                engine = create_store_engine(self.database_url)
                migrate.upgrade(engine)
                self._engine = engine
            return self._engine

    def _make_private(self) -> None:
        """Create the home 0700 and the SQLite database 0600 before SQLite opens it (its -wal
        and -shm then get the same mode), and tighten what an older version left open."""
        private_directory(self.home)
        for directory in (self.secrets, self.artifacts / "uploads"):
            tighten(directory, OWNER_ONLY_DIRECTORY)
        if self.secrets.is_dir():
            for secret in self.secrets.iterdir():
                tighten(secret, OWNER_ONLY_FILE)
        database = self._sqlite_file()
        if database is None:
            return
        if not database.exists() and database.parent.is_dir():
            os.close(os.open(database, os.O_WRONLY | os.O_CREAT, OWNER_ONLY_FILE))
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            tighten(path, OWNER_ONLY_FILE)

    def _sqlite_file(self) -> Path | None:
        url = sa.make_url(self.database_url)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return Path(str(url.database)).expanduser().absolute()

    @cached_property
    def registry(self) -> Registry:
        """The model registry of this workspace."""
        return Registry(self)

    def close(self) -> None:
        """Release database connections (the workspace opens them again when next used)."""
        with self._opening:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None
