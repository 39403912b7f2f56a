"""Two processes registering the same name at once both succeed, with different versions."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from trainforge.algorithms.model import TabularModel
from trainforge.workspace import Workspace


def test_concurrent_registrations_get_distinct_versions(tmp_path: Path, classifier: TabularModel,
                                                        lineage: dict):
    assert Workspace(tmp_path).registry.list_models() == []  # the database exists, as in real use
    n_writers = 4
    barrier = threading.Barrier(n_writers)

    def register() -> int:
        workspace = Workspace(tmp_path)  # each writer opens the workspace itself
        barrier.wait()
        version = workspace.registry.register(classifier, name="credit", metrics={},
                                              lineage=lineage).version
        workspace.close()
        return version

    with ThreadPoolExecutor(n_writers) as pool:
        writers = [pool.submit(register) for _ in range(n_writers)]
        versions = sorted(writer.result() for writer in writers)
    assert versions == [1, 2, 3, 4]
    registry = Workspace(tmp_path).registry
    assert [registry.load(f"credit:{v}").version for v in versions] == [1, 2, 3, 4]
