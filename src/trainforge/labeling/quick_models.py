"""The quick model of each labeling project, as the server sees it: the latest order and
highlight words, refitted by a process of its own (``labeling.refit_process``) as labels
arrive. The labeling page reads the latest ``Fitted`` and never waits for a fit.

One ``QuickModels`` per server process. ``labels_changed`` writes one line to the refit
process and returns; a thread reads its answers. The process starts with the first labels
after ``start`` (a server nobody labels on never pays for it) and stops with ``stop``. When
it dies (a crash, the kernel's out-of-memory killer), the projects fall back on the source's
order, ``down`` says so, and the next labels start it again once ``restart_after_s`` has
passed.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import IO, Any

import orjson

from trainforge.labeling.highlights import WordWeights
from trainforge.store.handle import StoreHandle
from trainforge.store.labeling import ProjectRecord

log = logging.getLogger(__name__)
# a process that died is started again by the next labels only after this long: one that
# dies on a project's data (out of memory) would otherwise die again on every label
RESTART_AFTER_S = 30.0
STOP_TIMEOUT_S = 5.0  # a fit in progress is not waited for longer: it holds nothing to save


@dataclass(frozen=True)
class Fitted:
    """A project's quick model as the page uses it: the order it gives, how many labels it
    was fitted on, and for text the words' weights."""

    ranked: list[int]  # positions, most useful first
    n_labels: int
    words: WordWeights | None

    def highlights(self, text: str) -> list[tuple[int, int, float]]:
        """(start, end, weight) of the words of ``text`` the model weighs most."""
        return [] if self.words is None else self.words.spans(text)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Fitted:
        words = raw["words"]
        return cls(ranked=[int(p) for p in raw["ranked"]], n_labels=int(raw["n_labels"]),
                   words=None if words is None else WordWeights.from_dict(words))


class QuickModels:
    """The latest ``Fitted`` of each project, kept fresh by the refit process."""

    def __init__(self, ws: StoreHandle, *, restart_after_s: float = RESTART_AFTER_S) -> None:
        self.ws = ws
        self.restart_after_s = restart_after_s
        self._lock = threading.Condition()
        self._fitted: dict[int, Fitted] = {}
        self._fits = 0
        self._enabled = False
        self._process: subprocess.Popen[bytes] | None = None
        self._died_at: float | None = None
        self._stalled = False  # its input was full at the last label (said once)

    def start(self) -> None:
        """Refit from now on: the process starts with the first labels."""
        with self._lock:
            self._enabled = True

    def stop(self) -> None:
        with self._lock:
            self._enabled = False
            process, self._process = self._process, None
        if process is None:
            return
        _close(process.stdin)  # the process exits when its input closes
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def labels_changed(self, project: ProjectRecord) -> None:
        """Refit ``project`` soon (returns at once)."""
        line = orjson.dumps({"project": project["name"]}) + b"\n"
        with self._lock:
            process = self._running()
            if process is None or process.stdin is None:
                return
            try:
                # one write of under PIPE_BUF bytes: all of it or none, never a blocked request
                os.write(process.stdin.fileno(), line)
                self._stalled = False
            except BlockingIOError:  # its input is full (it hangs): a later label asks again
                if not self._stalled:
                    log.warning("the quick models' refit process is not reading; %s is "
                                "refitted with a later label", project["name"])
                self._stalled = True
            except OSError:  # it died: its reader thread notices and says so
                log.warning("the quick models' refit process is gone; not refitting %s",
                            project["name"])

    def latest(self, project_id: int) -> Fitted | None:
        with self._lock:
            return self._fitted.get(project_id)

    @property
    def fits(self) -> int:
        """How many refits the process answered (a test or benchmark waits on it)."""
        with self._lock:
            return self._fits

    @property
    def down(self) -> bool:
        """True from the moment the refit process dies until it is started again."""
        with self._lock:
            return self._died_at is not None

    @property
    def pid(self) -> int | None:
        """The refit process's id while it runs."""
        with self._lock:
            return None if self._process is None else self._process.pid

    def _running(self) -> subprocess.Popen[bytes] | None:
        """The refit process, started now if it should run and does not (lock held)."""
        if not self._enabled or self._process is not None:
            return self._process
        if self._died_at is not None and (time.monotonic() - self._died_at
                                          < self.restart_after_s):
            return None
        self._process = self._spawn()
        self._died_at = None
        return self._process

    def _spawn(self) -> subprocess.Popen[bytes]:
        # its own session: the terminal's Ctrl-C reaches the server, which stops it in order
        process = subprocess.Popen([sys.executable, "-m", "trainforge.labeling.refit_process"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   start_new_session=True)
        assert process.stdin is not None  # stdin=PIPE gives one
        url = self.ws.engine.url.render_as_string(hide_password=False)
        # on its input, not its command line or environment: others may read those
        process.stdin.write(orjson.dumps({"database_url": url}) + b"\n")
        process.stdin.flush()
        os.set_blocking(process.stdin.fileno(), False)  # see labels_changed
        threading.Thread(target=self._read_answers, args=(process,), name="quick-models",
                         daemon=True).start()
        return process

    def _read_answers(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None  # stdout=PIPE gives one
        for line in process.stdout:
            answer = orjson.loads(line)
            fitted = answer["fitted"]
            with self._lock:
                if fitted is not None:
                    self._fitted[int(answer["project_id"])] = Fitted.from_dict(fitted)
                self._fits += 1
                self._lock.notify_all()
        code = process.wait()
        with self._lock:
            if self._process is not process:
                return  # stopped on purpose
            log.warning("the quick models' refit process exited (%s); labeling goes on in "
                        "the source's order until it is started again", code)
            self._process, self._died_at = None, time.monotonic()
            self._fitted.clear()  # its orders grow stale: the source's order is honest
            self._lock.notify_all()


def _close(stream: IO[bytes] | None) -> None:
    if stream is None:
        return
    try:
        stream.close()
    except OSError:  # already broken: the process is gone
        pass

