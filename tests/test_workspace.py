"""The workspace: where it lives, what it opens, and that opening it twice changes nothing."""

from __future__ import annotations

import copy
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from trainforge.errors import StoreUnavailable
from trainforge.registry import Registry
from trainforge.store import list_runs, migrate, start_run
from trainforge.workspace import Workspace


def test_the_home_comes_from_trainforge_home(home: Path):
    assert Workspace().home == home


def test_the_home_defaults_to_dot_trainforge_in_the_user_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("TRAINFORGE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert Workspace().home == tmp_path / ".trainforge"


def test_the_database_defaults_to_sqlite_in_the_home(tmp_path: Path):
    workspace = Workspace(tmp_path)
    assert workspace.database_url == f"sqlite:///{tmp_path}/trainforge.db"
    assert workspace.artifacts == tmp_path / "artifacts"


def test_the_database_url_comes_from_trainforge_database_url(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TRAINFORGE_DATABASE_URL", f"sqlite:///{tmp_path}/elsewhere.db")
    workspace = Workspace(tmp_path / "home")
    start_run(workspace, kind="train", config={}, dataset_id=None)
    assert (tmp_path / "elsewhere.db").is_file()


def test_the_printed_workspace_hides_the_database_password(tmp_path: Path):
    workspace = Workspace(tmp_path, database_url="postgresql+psycopg://tf:s3cret@db/tf")
    assert "s3cret" not in repr(workspace)


def test_nothing_is_created_until_the_workspace_is_used(tmp_path: Path):
    Workspace(tmp_path / "home")
    assert not (tmp_path / "home").exists()


def test_the_first_use_creates_the_database_at_the_newest_schema(tmp_path: Path):
    workspace = Workspace(tmp_path)
    assert list_runs(workspace) == []
    assert migrate.current_revision(workspace.engine) == migrate.HEAD_REVISION


def test_sqlite_runs_in_wal_mode_with_foreign_keys_on(tmp_path: Path):
    with Workspace(tmp_path).engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000


def test_reopening_a_workspace_keeps_its_data_and_migrates_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    run_id = start_run(Workspace(tmp_path), kind="train", config={}, dataset_id=None)

    def _no_migration(*args: object) -> None:
        raise AssertionError("an up-to-date workspace was migrated again")

    from alembic import command

    monkeypatch.setattr(command, "upgrade", _no_migration)
    assert [run["id"] for run in list_runs(Workspace(tmp_path))] == [run_id]


def test_several_processes_opening_a_new_workspace_at_once_all_succeed(tmp_path: Path):
    n_openers = 4
    barrier = threading.Barrier(n_openers)

    def open_workspace() -> str:
        barrier.wait()
        return start_run(Workspace(tmp_path), kind="train", config={}, dataset_id=None)

    with ThreadPoolExecutor(n_openers) as pool:
        runs = [pool.submit(open_workspace) for _ in range(n_openers)]
        run_ids = {run.result() for run in runs}  # re-raises whatever an opener hit
    assert {run["id"] for run in list_runs(Workspace(tmp_path))} == run_ids


def test_the_registry_belongs_to_its_workspace(tmp_path: Path):
    workspace = Workspace(tmp_path)
    assert isinstance(workspace.registry, Registry)
    assert workspace.registry.workspace is workspace
    assert workspace.registry.root == tmp_path / "artifacts" / "models"


def test_closing_a_workspace_lets_it_reopen_on_next_use(tmp_path: Path):
    workspace = Workspace(tmp_path)
    start_run(workspace, kind="train", config={}, dataset_id=None)
    workspace.close()
    with workspace.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM runs")).scalar() == 1


def test_a_database_from_a_newer_trainforge_says_to_upgrade(tmp_path: Path):
    workspace = Workspace(tmp_path)
    with workspace.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreUnavailable, match="revision '9999'.*upgrade trainforge"):
        list_runs(Workspace(tmp_path))


def test_a_database_that_cannot_be_opened_says_what_to_check(tmp_path: Path):
    (tmp_path / "file").write_text("")
    workspace = Workspace(tmp_path, database_url=f"sqlite:///{tmp_path}/file/sub/x.db")
    with pytest.raises(StoreUnavailable, match="unable to open database file.*check "
                       "TRAINFORGE_DATABASE_URL"):
        list_runs(workspace)


def test_a_copied_workspace_opens_its_own_connections(tmp_path: Path):
    workspace = Workspace(tmp_path)
    run_id = start_run(workspace, kind="train", config={}, dataset_id=None)
    copied = copy.deepcopy(workspace)  # as when handed to a worker process
    assert copied.engine is not workspace.engine
    assert [run["id"] for run in list_runs(copied)] == [run_id]


def test_listing_models_imports_neither_pandas_nor_scikit_learn_nor_alembic(tmp_path: Path):
    Workspace(tmp_path).registry.list_models()  # the store exists, as for any later command
    script = ("import sys; from pathlib import Path; from trainforge.workspace import Workspace; "
              f"Workspace(Path({str(tmp_path)!r})).registry.list_models(); "
              "print(sorted({'pandas', 'sklearn', 'skops', 'alembic'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """A umask that lets everyone read and write what is created: modes must not rely on it."""
    old = os.umask(0)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_workspace_and_its_database_are_readable_by_their_owner_only(
        tmp_path: Path, permissive_umask: None):
    workspace = Workspace(tmp_path / "home")
    start_run(workspace, kind="train", config={}, dataset_id=None)
    home = workspace.home
    assert _mode(home) == 0o700
    assert {p.name: _mode(p) for p in home.glob("trainforge.db*")} == {
        "trainforge.db": 0o600, "trainforge.db-wal": 0o600, "trainforge.db-shm": 0o600}


def test_opening_a_workspace_tightens_modes_left_open_by_an_older_version(tmp_path: Path):
    workspace = Workspace(tmp_path / "home")
    workspace.write_secret("first-admin.txt", "password: x\n")
    start_run(workspace, kind="train", config={}, dataset_id=None)
    workspace.close()
    uploads = workspace.artifacts / "uploads"
    uploads.mkdir(parents=True)
    loosened = [workspace.home, workspace.secrets, uploads, workspace.home / "trainforge.db",
                workspace.secrets / "first-admin.txt"]
    for path in loosened:
        path.chmod(0o755 if path.is_dir() else 0o644)
    list_runs(Workspace(workspace.home))
    assert [oct(_mode(p)) for p in loosened] == ["0o700"] * 3 + ["0o600"] * 2


def test_a_secret_is_written_readable_by_its_owner_only_whatever_the_umask(
        tmp_path: Path, permissive_umask: None):
    path = Workspace(tmp_path / "home").write_secret("first-admin.txt", "password: x\n")
    assert path.read_text() == "password: x\n"
    assert (_mode(path), _mode(path.parent)) == (0o600, 0o700)


def test_rewriting_a_secret_left_world_readable_makes_it_private(tmp_path: Path):
    workspace = Workspace(tmp_path / "home")
    workspace.write_secret("user-ana.txt", "old\n").chmod(0o644)
    assert _mode(workspace.write_secret("user-ana.txt", "new\n")) == 0o600
