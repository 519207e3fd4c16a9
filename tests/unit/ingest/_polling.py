"""Waiting, in async tests, for something another task or process does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ("eventually",)


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Whether ``condition`` holds within ``timeout`` seconds (polled)."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return condition()
