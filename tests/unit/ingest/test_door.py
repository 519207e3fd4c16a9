"""``hand_over``: what the store could not take is held and retried; only a refusal drops events."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from tocsin.errors import GuardRefusal, StoreError, StoreUnavailable, TocsinError
from tocsin.ingest import door
from tocsin.model import Actor, EventIn

EVENTS = [EventIn(type="fire.smoke", method="equipment", source="panel-1")]
ACTOR = Actor(name="t", role="device")


class Store:
    """An ``Accept`` that fails as told, then stores."""

    def __init__(self, *failures: TocsinError) -> None:
        self.failures = list(failures)
        self.calls = 0
        self.stored: list[EventIn] = []

    async def __call__(
        self, items: Sequence[EventIn], actor: Actor, *, raw: Sequence[str | None] | None = None
    ) -> object:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        self.stored.extend(items)
        return None


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    async def instant(_delay: float) -> None:
        return None

    monkeypatch.setattr(asyncio, "sleep", instant)  # the backoff, without its waiting


def test_overload_and_failed_commits_are_retried_until_stored() -> None:
    store = Store(StoreUnavailable("queue full", retry_after=1), StoreError("commit failed: disk I/O error"))
    assert asyncio.run(door.hand_over(store, EVENTS, ACTOR, [None], origin="test")) is True
    assert store.calls == 3 and store.stored == EVENTS


def test_a_refusal_is_not_retried() -> None:
    store = Store(GuardRefusal("type: refused"))
    assert asyncio.run(door.hand_over(store, EVENTS, ACTOR, [None], origin="test")) is False
    assert store.calls == 1 and store.stored == []
