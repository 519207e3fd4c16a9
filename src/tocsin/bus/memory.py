"""The in-process bus: committed changes fanned out to live subscribers.

Publishing never blocks and never grows without bound: each subscriber has a bounded
queue, and one that falls behind is marked *lagged* and told to reset (reload its view)
instead of being sent a silently gappy stream. Loop-thread only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from tocsin.engine.state import Change

__all__ = ("MemoryBus", "Subscription")


class Subscription:
    """One listener's bounded queue of changes."""

    __slots__ = ("_queue", "lagged")

    def __init__(self, size: int) -> None:
        self._queue: asyncio.Queue[Change] = asyncio.Queue(maxsize=size)
        self.lagged = False

    def offer(self, change: Change) -> None:
        if self.lagged:
            return
        try:
            self._queue.put_nowait(change)
        except asyncio.QueueFull:
            self.lagged = True

    async def get(self, timeout: float) -> Change | None:
        """The next change, or None after ``timeout`` seconds (time for a keep-alive)."""
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None


class MemoryBus:
    """Publish/subscribe of incident changes within one process."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._queue_size = queue_size
        self._subs: set[Subscription] = set()

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def subscribe(self) -> Subscription:
        sub = Subscription(self._queue_size)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def publish(self, changes: Sequence[Change]) -> None:
        for sub in self._subs:
            for change in changes:
                sub.offer(change)
