"""Time as the store keeps it: integer microseconds since the Unix epoch, always UTC.

Integers sort, index and compare identically on SQLite and PostgreSQL, and cost nothing
to convert in the hot path; datetimes exist only at the API edge.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ("Clock", "from_us", "now_us", "system_clock", "to_us")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now_us() -> int:
    """The current wall-clock time in microseconds."""
    return time.time_ns() // 1000


def to_us(value: datetime) -> int:
    """An aware datetime as epoch microseconds (exact, no float rounding)."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> datetime:
    """Epoch microseconds as an aware UTC datetime."""
    return datetime.fromtimestamp(value // 1_000_000, tz=UTC).replace(microsecond=value % 1_000_000)


class Clock:
    """A replaceable source of time, so tests and retention jobs can move it."""

    __slots__ = ("offset_us",)

    def __init__(self) -> None:
        self.offset_us = 0

    def now_us(self) -> int:
        return now_us() + self.offset_us


system_clock = Clock()
