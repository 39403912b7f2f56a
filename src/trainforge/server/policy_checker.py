"""The server's background check of the retraining policies: every ``policy_check_s``
seconds, each enabled policy is judged and a due retrain queued (``jobs.retrain.check_all``),
and each deployment's shadow promoted when its promotion rule holds.
One thread per server process, stopped with the app; it does its work off the event loop."""

from __future__ import annotations

import logging
import threading

from trainforge.jobs.retrain import check_all
from trainforge.server.deployments import promote_when_due
from trainforge.workspace import Workspace

log = logging.getLogger(__name__)


class PolicyChecker:
    def __init__(self, workspace: Workspace, *, every_s: float) -> None:
        self.workspace, self.every_s = workspace, every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="trainforge-policy-checker",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):  # the first check one period after the start
            try:
                check_all(self.workspace)
            except Exception:  # the store was unreachable: try again at the next period
                log.exception("checking the retraining policies failed")
            try:
                promote_when_due(self.workspace)
            except Exception:  # as above: the next period tries again
                log.exception("checking the deployments' promotion rules failed")
