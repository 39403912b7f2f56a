"""A Flower process ends when the trainforge that started it does.

The coordinator would otherwise wait a day for clients that will never come, and a client
retry a coordinator that is gone; a killed trainforge (a worker's SIGKILL, a terminal closed)
runs no cleanup that could stop them.
"""

from __future__ import annotations

import os
import threading
import time

CHECK_S = 1.0


def exit_with_parent() -> None:
    """End this process (status 3) within CHECK_S of its parent's end, from a daemon thread."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:  # an orphan is adopted: its parent id changes
            time.sleep(CHECK_S)
        os._exit(3)  # no cleanup to run: the parent that wanted the result is gone

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
