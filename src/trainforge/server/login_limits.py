"""How many logins a user name or a client address may try: a sliding one-minute window.

Each attempt is counted when it starts, before its password is checked, so forty attempts sent
at once cost five password checks, not forty; a successful login takes its attempt back and
clears the user's count. While either the user name or the address is over its limit, every
attempt, even with the right password, is answered 429 with the seconds to wait.

The counts live in this process's memory (a restart forgets them; each server process counts
its own) in a table bounded in size: made-up user names cannot grow it without bound, they
push out the names least recently tried. The address is the TCP peer's: behind a reverse proxy
every login shares the proxy's address, and ``X-Forwarded-For`` is not trusted (anyone can
write it).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

FAILURES_PER_USER = 5  # a person mistyping gets five tries a minute
FAILURES_PER_ADDRESS = 20  # one address guessing many names, or an office behind one NAT
WINDOW_S = 60.0
MAX_TRACKED = 10_000  # names and addresses remembered at once (under 10 MB)
MAX_KEY_CHARS = 100  # no user name is longer; a longer one is counted by its first 100


class LoginThrottle:
    """Failed-login counts per user name and per address, safe to share between threads."""

    def __init__(self, *, per_user: int = FAILURES_PER_USER,
                 per_address: int = FAILURES_PER_ADDRESS, window_s: float = WINDOW_S,
                 max_tracked: int = MAX_TRACKED,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = {"user": per_user, "address": per_address}
        self.window_s, self.max_tracked, self.clock = window_s, max_tracked, clock
        self._lock = threading.Lock()
        # (kind, name) -> when its recent attempts started, oldest first; least recently
        # tried first, so the oldest is what a full table forgets
        self._attempts: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    def admit(self, username: str, address: str) -> int | None:
        """Count an attempt and return None, or, when the user or the address is over its
        limit, return the whole seconds to wait (and count nothing)."""
        keys = self._keys(username, address)
        now = self.clock()
        with self._lock:
            waits = [self._wait_s(key, now) for key in keys]
            if any(waits):
                return max(waits)
            for key in keys:
                self._attempts.setdefault(key, deque()).append(now)
                self._attempts.move_to_end(key)
            while len(self._attempts) > self.max_tracked:
                self._attempts.popitem(last=False)
        return None

    def succeeded(self, username: str, address: str) -> None:
        """A login went through: the user starts afresh and the address gets its try back."""
        user, by_address = self._keys(username, address)
        with self._lock:
            self._attempts.pop(user, None)
            if self._attempts.get(by_address):
                self._attempts[by_address].pop()

    def n_tracked(self) -> int:
        """How many user names and addresses are remembered now."""
        with self._lock:
            return len(self._attempts)

    def _keys(self, username: str, address: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return ("user", username[:MAX_KEY_CHARS]), ("address", address[:MAX_KEY_CHARS])

    def _wait_s(self, key: tuple[str, str], now: float) -> int:
        attempts = self._attempts.get(key)
        if attempts is None:
            return 0
        while attempts and attempts[0] <= now - self.window_s:
            attempts.popleft()
        if len(attempts) < self.limits[key[0]]:
            return 0
        return max(1, math.ceil(attempts[0] + self.window_s - now))
