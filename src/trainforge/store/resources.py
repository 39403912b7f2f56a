"""What this process has used, as the store records it for jobs and deployments: CPU-seconds
and peak resident memory.

The peak is Linux's high-water mark of resident memory (``VmHWM``), which a process can reset
(``/proc/self/clear_refs``), so a worker that runs many jobs reports each job's own peak and
a server reports each day's. ``ru_maxrss`` cannot be reset: it is the process's lifetime
peak, which after a big job would be every later job's too. Where the reset is not possible
(not Linux), the peak reported is the lifetime one: an upper bound.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def cpu_seconds() -> float:
    """CPU time of this process (every thread, to the nanosecond) and of its children that
    have ended (to the clock tick: the system keeps no finer count for them)."""
    children = os.times()
    return time.process_time() + children.children_user + children.children_system


def reset_peak_memory() -> bool:
    """Start the peak-memory high-water mark afresh from the current resident size; False
    where the system cannot (the peak then stays the process's lifetime peak)."""
    try:
        _CLEAR_REFS.write_text("5")  # 5: reset the peak RSS (Linux 4.0+), nothing else
    except OSError:
        return False
    return True


def peak_memory_mb() -> float:
    """The peak resident memory since the last ``reset_peak_memory`` (since the start, where
    it could not reset), in MiB."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024.0  # bytes there, KiB here


@dataclass(frozen=True)
class Used:
    """What a piece of work cost its process."""

    cpu_s: float
    peak_memory_mb: float


class Meter:
    """Measures what the process uses from its creation to ``read()``: one piece of work at a
    time (a worker's job), since the peak is the whole process's."""

    def __init__(self) -> None:
        reset_peak_memory()
        self._cpu_start = cpu_seconds()

    def read(self) -> Used:
        return Used(cpu_s=cpu_seconds() - self._cpu_start, peak_memory_mb=peak_memory_mb())
