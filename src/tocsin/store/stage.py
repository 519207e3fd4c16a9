"""A pipeline stage: a thread that handles the items handed to it one at a time, in order.

The writer hands each group's COMMIT to one, so that the next group's jobs run while the
COMMIT waits on the disk (``tocsin.store.writer``). The producer decides how far ahead it
runs; this class gives it the wait it needs for that: ``drain``, until every item handed
is handled (after which the stage no longer touches what the items share).
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ("Stage",)

T = TypeVar("T")
log = logging.getLogger(__name__)


class Stage(Generic[T]):
    """Runs ``handle(item)`` on a thread of its own for each item handed, in order."""

    def __init__(self, handle: Callable[[T], None], *, name: str) -> None:
        self._handle = handle
        self._cond = threading.Condition()
        self._waiting: collections.deque[T] = collections.deque()
        self._handed = 0
        self._handled = 0
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def handled(self) -> int:
        """How many items have been handled (items are numbered from 1 as handed)."""
        return self._handled

    def start(self) -> None:
        self._thread.start()

    def hand(self, item: T) -> int:
        """Queue ``item`` for the stage's thread; returns its number."""
        with self._cond:
            self._waiting.append(item)
            self._handed += 1
            self._cond.notify_all()
            return self._handed

    def drain(self) -> None:
        """Block until every item handed so far has been handled."""
        with self._cond:
            self._cond.wait_for(lambda: self._handled == self._handed)

    def stop(self) -> None:
        """Handle what was handed, then end the thread (blocking)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._waiting or self._stopping)
                if not self._waiting:
                    return
                item = self._waiting.popleft()
            try:
                self._handle(item)
            except Exception:  # the handler owns its errors; one escaping must not stop the pipeline
                log.exception("pipeline stage handler failed")
            with self._cond:
                self._handled += 1
                self._cond.notify_all()
