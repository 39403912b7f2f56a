"""Settings for a process trainforge owns (a CLI command, a server worker), made once before
its jobs start threads. They are process-wide, so the SDK does not make them in its caller's
process; a program of the caller's own that trains can call ``own_process`` itself."""

from __future__ import annotations

from trainforge.training.memory import limit_malloc_arenas


def own_process() -> None:
    """Cap glibc's malloc heaps at two (``limit_malloc_arenas``: 10-45 MB less at a search's
    peak, where each search thread would otherwise keep a heap of what it freed)."""
    limit_malloc_arenas()
