"""Memory: how much a candidate will need, how much there is, and how much it took."""

from __future__ import annotations

import ctypes
import sys
import threading
from functools import cache
from types import TracebackType
from typing import Any, Self

import numpy as np
import psutil

# bytes per input cell at the peak of a fit, beyond the input itself (measured roughly on
# 10k-100k row tables; forests also grow with the rows because deep trees keep them all)
_BYTES_PER_CELL = {"linear": 16.0, "knn": 8.0, "mlp": 16.0, "lightgbm": 6.0, "xgboost": 12.0,
                   "catboost": 16.0, "decision_tree": 8.0}
_FOREST_BYTES_PER_ROW_TREE = 90.0  # a node is ~64 bytes plus its value array


def estimate_peak_mb(algorithm: str, *, n_rows: int, n_columns: int, n_outputs: int = 1,
                     n_trees: int = 300) -> float:
    """A rough upper estimate of a fit's extra memory, in MiB."""
    cells = float(n_rows) * max(1, n_columns)
    if algorithm in ("random_forest", "extra_trees"):
        trees = float(n_trees) * n_rows * (_FOREST_BYTES_PER_ROW_TREE + 8.0 * n_outputs) * 0.7
        return (trees + cells * 8.0) / 2**20
    per_cell = _BYTES_PER_CELL.get(algorithm, 16.0) * (1.0 + 0.1 * (n_outputs - 1))
    return cells * per_cell / 2**20


_NODE_BYTES = 64  # one node of a scikit-learn tree (children, feature, threshold, counts)
_SIZE_DEPTH = 4  # a fitted model's arrays sit within this many attributes of it


def fitted_mb(model: Any) -> float:
    """What a fitted model holds in memory, in MiB, from its arrays, the nodes of its
    scikit-learn trees (forests grow with the rows: the heaviest models a search keeps) and
    what a booster says its library holds (``native_bytes()``: CatBoost's multiclass models
    hold 8-11 MB each). Computed from the model alone, so the same fit always gets the same
    figure."""
    return _held_bytes(model, depth=_SIZE_DEPTH, seen=set()) / 2**20


def _held_bytes(value: Any, *, depth: int, seen: set[int]) -> int:
    if id(value) in seen or depth < 0:
        return 0
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    native = getattr(value, "native_bytes", None)
    if callable(native) and hasattr(value, "booster_"):
        return int(native())
    tree = getattr(value, "tree_", None)
    if tree is not None and hasattr(tree, "node_count"):
        return int(tree.node_count) * _NODE_BYTES + int(tree.value.nbytes)
    if isinstance(value, (list, tuple)):
        return sum(_held_bytes(v, depth=depth - 1, seen=seen) for v in value)
    if isinstance(value, dict):
        return sum(_held_bytes(v, depth=depth - 1, seen=seen) for v in value.values())
    attributes = getattr(value, "__dict__", None)
    if attributes is None or isinstance(value, type):
        return 0
    return sum(_held_bytes(v, depth=depth - 1, seen=seen) for v in attributes.values())


def release_freed_memory() -> None:
    """Hand the memory freed since the last call back to the system (glibc keeps freed pages
    of its heaps for reuse: after a forest's fold models are dropped, ~30-90 MB of them).
    Does nothing where the C library has no ``malloc_trim``."""
    trim = _libc("malloc_trim")
    if trim is not None:
        trim(0)


_M_ARENA_MAX = -8  # mallopt's parameter number in glibc's malloc.h
# the heaps threads allocate from: the main one and one that the library threads (a forest's
# joblib workers, OpenMP's) share
MALLOC_ARENAS = 2


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> None:
    """Let glibc give the threads no more than ``arenas`` heaps. By default each thread that
    allocates while another holds a heap's lock gets a heap of its own (up to 8 per core), and
    each keeps pages its thread freed: a run's peak held 10-45 MB more of them (telco_churn,
    --trials 8, measured with ``MALLOC_ARENA_MAX``). Process-wide, and a thread that already
    has a heap keeps it, so call it before the work starts threads (``jobs.process`` does, in
    the processes trainforge owns). Does nothing where the C library has no ``mallopt``."""
    mallopt = _libc("mallopt")
    if mallopt is not None:
        mallopt(_M_ARENA_MAX, arenas)


@cache
def _libc(function: str) -> Any:
    """``function`` of the C library the interpreter runs on, found among the symbols already
    loaded: ``ctypes.util.find_library`` would run ``ldconfig -p`` in a child process, and a
    child forked from a training counts the training's memory a second time in the process
    tree's until it runs ldconfig (a 332 MB process calling it 30 times: the tree peaked at
    664 MB; the bench harness recorded 617 MB once on a credit_g run that peaks at ~400)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(None), function)
    except (OSError, AttributeError):  # musl and others have no malloc_trim or mallopt
        return None


def available_mb() -> float:
    return float(psutil.virtual_memory().available) / 2**20


class PeakMemory:
    """Samples this process's RSS in a background thread; ``peak_mb`` is the rise above the
    level at entry. Cheap: one ``psutil`` call every ``interval_s``."""

    def __init__(self, interval_s: float = 0.02) -> None:
        self.interval_s = interval_s
        self.peak_mb = 0.0
        self._process = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._baseline = 0

    def __enter__(self) -> Self:
        self._baseline = self._process.memory_info().rss
        self._highest = self._baseline
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._highest = max(self._highest, self._process.memory_info().rss)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self._highest = max(self._highest, self._process.memory_info().rss)
        self.peak_mb = (self._highest - self._baseline) / 2**20

