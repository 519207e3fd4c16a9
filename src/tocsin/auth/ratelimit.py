"""Failed-login throttling: a sliding window per username and per client address.

Bounded memory (oldest keys evicted past ``MAX_KEYS``); a restart forgets the counts,
which only ever makes an attacker start again at the same slow rate.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque

__all__ = ("LoginLimiter",)

MAX_KEYS = 10_000


class LoginLimiter:
    """Allow at most ``max_failures`` failed logins per key within ``window_s``."""

    def __init__(self, max_failures: int = 5, window_s: float = 300.0) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, *keys: str) -> int:
        """Seconds until ``keys`` may try again (0 = now)."""
        now = time.monotonic()
        wait = 0.0
        for key in keys:
            times = self._failures.get(key)
            if times is None:
                continue
            while times and times[0] <= now - self.window_s:
                times.popleft()
            if len(times) >= self.max_failures:
                wait = max(wait, times[0] + self.window_s - now)
        return int(wait) + (1 if wait else 0)

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > MAX_KEYS:
            self._failures.popitem(last=False)

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)
