"""Two processes registering the same name at once both succeed, with different versions."""

from __future__ import annotations

import threading
from pathlib import Path

from trainforge.algorithms.model import TabularModel
from trainforge.workspace import Workspace


def test_concurrent_registrations_get_distinct_versions(tmp_path: Path, classifier: TabularModel,
                                                        lineage: dict):
    Workspace(tmp_path).engine  # the database exists before the race, as in real use
    n_writers = 4
    barrier = threading.Barrier(n_writers)
    versions: list[int] = []

    def register() -> None:
        workspace = Workspace(tmp_path)  # each writer opens the workspace itself
        barrier.wait()
        versions.append(workspace.registry.register(
            classifier, name="credit", metrics={}, lineage=lineage).version)
        workspace.close()

    writers = [threading.Thread(target=register) for _ in range(n_writers)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert sorted(versions) == [1, 2, 3, 4]
    registry = Workspace(tmp_path).registry
    assert [registry.load(f"credit:{v}").version for v in range(1, 5)] == [1, 2, 3, 4]
