"""The contract every adapter hands events through, and the patient way to do it.

``Accept`` is ``Runtime.accept``: guard, then a durable commit. Adapters that cannot
answer their sender with a 503 (a stream, a broker, a feed) use ``hand_over``: an
overloaded or failing store is waited out with backoff, holding the events, never
dropping them (a repeat is harmless: stored events are deduplicated by external id); a
refusal is logged and the events are not retried (retrying cannot change a verdict).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from typing import Protocol

from tocsin.errors import StoreError, StoreUnavailable, TocsinError
from tocsin.model import Actor, EventIn

__all__ = ("MAX_WAIT_S", "Accept", "hand_over")

log = logging.getLogger(__name__)
MAX_WAIT_S = 30.0
"""Longest pause between attempts while the store is overloaded."""


class Accept(Protocol):
    """tocsin's ingest door (``Runtime.accept``)."""

    def __call__(
        self, items: Sequence[EventIn], actor: Actor, /, *, raw: Sequence[str | None] | None = None
    ) -> Awaitable[object]: ...


async def hand_over(
    accept: Accept, items: Sequence[EventIn], actor: Actor, raw: Sequence[str | None], *, origin: str
) -> bool:
    """Deliver ``items``, waiting out overload; returns False if they were refused (logged)."""
    delay = 0.2
    while True:
        try:
            await accept(items, actor, raw=raw)
            return True
        except StoreError as exc:
            if not isinstance(exc, StoreUnavailable):  # a failed commit: nothing was stored
                log.warning("store failed; will retry", extra={"origin": origin, "error": exc.detail})
            await asyncio.sleep(delay)
            delay = min(MAX_WAIT_S, delay * 2)
        except TocsinError as exc:
            log.warning("events refused", extra={"origin": origin, "error": exc.detail})
            return False
