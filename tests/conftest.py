"""Shared fixtures: every test gets its own workspace; nothing touches ~/.trainforge."""

from __future__ import annotations

import gc
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from trainforge.registry.loaded import LoadedModel
    from trainforge.workspace import Workspace

# tests share 2 cores: keep every library to one thread unless a test says otherwise
os.environ.setdefault("OMP_NUM_THREADS", "1")


# One process runs thousands of tests and holds over a million objects (every library the
# platform imports, the session's models and apps): Python's default collector scans them all
# whenever the survivors grow by a quarter, which in four tests/server files took 16 full
# collections and ~8.5 s of CPU of ~55. Fewer, later young collections let most of a test's
# objects die before they are promoted, and what is alive once collection has imported
# everything is left out of full collections (as serving does: serving/server.py). Measured
# on those files, interleaved, load 4-5: 6 full collections, ~2 s of CPU in the collector,
# 44-48 s of CPU in all instead of 55-57; peak memory 1.02 GB instead of 0.88.
_YOUNG_OBJECTS, _YOUNG_COLLECTIONS, _MIDDLE_COLLECTIONS = 50_000, 20, 10


def pytest_configure(config: pytest.Config) -> None:
    gc.set_threshold(_YOUNG_OBJECTS, _YOUNG_COLLECTIONS, _MIDDLE_COLLECTIONS)
    # --dist loadfile hands out files largest first by test count, which puts the journeys and
    # kill-and-resume modules (a few tests, up to a minute each) last: one worker then finishes
    # them alone while the other idles. pytest_collection_modifyitems orders the files instead.
    if config.getoption("dist", default="no") == "loadfile":
        config.option.loadscopereorder = False


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.collect()
    gc.freeze()  # the modules and libraries collection imported live as long as the process


# session fixtures that start a server process for the run: SeaweedFS took ~11 s to answer and
# PostgreSQL ~3 s in the fast tier's serial run at load 5-10; the tests on them run in `make test`
_SERVER_PROCESSES = frozenset({"s3_server", "postgres_url"})


@pytest.hookimpl(tryfirst=True)  # before `-m "not slow"` deselects by the markers set here
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on a server process the run starts (``_SERVER_PROCESSES``) are slow. Then the
    most expensive files first: modules marked slow as a whole, then modules with some
    slow tests, then the rest; so the last files the workers take are quick ones and both
    finish together (xdist's workers collect, and keep this order; they are told --dist no,
    so the order cannot depend on it). The sort is stable: a file keeps its own order."""
    for item in items:
        if _SERVER_PROCESSES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    files_with_slow_tests = {item.path for item in items if item.get_closest_marker("slow")}

    def tier(item: pytest.Item) -> int:
        module = item.getparent(pytest.Module)
        if module is not None and module.get_closest_marker("slow"):
            return 0
        return 1 if item.path in files_with_slow_tests else 2

    items.sort(key=tier)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "trainforge-home"
    monkeypatch.setenv("TRAINFORGE_HOME", str(home))
    monkeypatch.delenv("TRAINFORGE_DATABASE_URL", raising=False)
    monkeypatch.delenv("TRAINFORGE_ARTIFACTS", raising=False)
    return home


@pytest.fixture
def home(_isolated_home: Path) -> Path:
    return _isolated_home


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SQLite database of a new workspace, made at the newest revision once per process.
    Making one (its tables created and stamped: trainforge.store.migrate.create_new) costs
    ~14 ms of CPU and a few fsyncs (~60 ms of wall time on the 2-core VM, more when loaded);
    copying this file and opening it, ~2.5 ms of CPU and ~5 ms."""
    from trainforge.workspace import Workspace

    made = Workspace(tmp_path_factory.mktemp("empty-store") / "home")
    made.engine  # noqa: B018 - the first use creates the database
    made.close()
    return made.home / "trainforge.db"


@pytest.fixture
def new_workspace(empty_store: Path) -> Callable[[Path], Workspace]:
    """``new_workspace(tmp_path / "home")``: a new, empty workspace at that home, as
    ``Workspace(home)`` makes it on first use (home 0700, database 0600, newest schema), but
    with its database copied from ``empty_store`` rather than created again."""
    from trainforge.workspace import Workspace

    def make(home: Path) -> Workspace:
        home.mkdir(mode=0o700, parents=True)
        shutil.copy2(empty_store, home / empty_store.name)
        return Workspace(home)

    return make


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding two trained versions of ``credit`` (linear, seeds 0 and 1, and their
    runs), made once per process: tests copy it (a copy costs milliseconds, a training seconds)
    rather than train their own."""
    from tests._paths import EXAMPLES

    import trainforge as tf
    from trainforge.workspace import Workspace

    home = tmp_path_factory.mktemp("trained") / "home"
    ws = Workspace(home)
    for seed in (0, 1):
        tf.train(EXAMPLES / "credit_g.csv", target="class", name="credit", trials=2,
                 algorithm="linear", seed=seed, workspace=ws)
    ws.close()
    return home


@pytest.fixture(scope="session")
def wine_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding ``wine`` version 1 (a linear model of examples/wine.csv's
    cultivar), made once per process for the files that copy it."""
    from tests._paths import EXAMPLES

    import trainforge as tf
    from trainforge.workspace import Workspace

    home = tmp_path_factory.mktemp("wine") / "home"
    ws = Workspace(home)
    tf.train(EXAMPLES / "wine.csv", target="cultivar", name="wine", trials=1, algorithm="linear",
             workspace=ws)
    ws.close()
    return home


@pytest.fixture(scope="session")
def churn_home_of(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``churn_home_of("lightgbm")``: a workspace holding ``churn`` version 1, one trial of that
    algorithm on 200 rows (tests/monitoring/_served.train_churn), trained once per process for
    every test that copies it (tests/monitoring/_served.copy_home)."""
    from tests.monitoring._served import train_churn

    homes: dict[str, Path] = {}

    def home_of(algorithm: str) -> Path:
        if algorithm not in homes:
            folder = tmp_path_factory.mktemp(f"churn-{algorithm}")
            homes[algorithm] = train_churn(folder, algorithm=algorithm)
        return homes[algorithm]

    return home_of


@pytest.fixture(scope="session")
def churn_home(churn_home_of: Callable[[str], Path]) -> Path:
    """``churn_home_of("linear")``: defined here, not imported into each file that uses it,
    which would train it again per file."""
    return churn_home_of("linear")


@pytest.fixture(scope="session")
def text_network_model(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    """tests/serving/network_models.text_network (a GRU, six epochs), trained once per process
    for the CLI's, the server's and the serving app's explanation tests, which only read it."""
    from tests.serving.network_models import text_network

    return text_network(tmp_path_factory.mktemp("words"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster for the whole run (skips, saying why, without one)."""
    from tests.store.postgres_cluster import postgres_cluster

    with postgres_cluster() as url:
        yield url


@pytest.fixture(scope="session")
def s3_server() -> Iterator[object]:
    """A SeaweedFS S3 server on 127.0.0.1 for the whole run (skips, saying why, without one)."""
    from tests.store.seaweedfs import seaweedfs_server

    with seaweedfs_server() as server:
        yield server


@pytest.fixture
def s3_url(s3_server: object, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """``s3://BUCKET/<fresh prefix>`` on ``s3_server``, the AWS variables set as a user would."""
    from tests.store.seaweedfs import point_aws_at

    return point_aws_at(s3_server, monkeypatch, tmp_path)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> object:
    """``cli("train", DATA, "--target", "y", home=...)``: the command run in this process."""
    from tests._cli import InProcessCli

    return InProcessCli(monkeypatch, capsys)
