"""How a job tells its observers (the CLI's display, the server's job log) what it is doing.

An observer defines only the hooks it needs: ``on_run_start(run_id)`` (a server job records
it at once, so a retry can resume the run), ``on_phase(text)``, and each job's own hooks
(``on_task`` for tables; the search's ``on_trial_end``, ``on_epoch_end``; RL's
``on_rollout_end``). A hook it does not define is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence


def notify(observers: Sequence[object], hook: str, *args: object) -> None:
    """Call ``hook(*args)`` on each observer that defines it."""
    for observer in observers:
        method = getattr(observer, hook, None)
        if method is not None:
            method(*args)
